"""The security events NamoID raises and the SET event type each is delivered as (RFC 8417 §2.2).

Where an OpenID RISC or CAEP event type fits, it is used; every other event gets a
NamoID URN, ``urn:namoid:event:<name>``. An event that is not listed here cannot be raised.

Deleting an account is two events (issue 13): ``user.deleted`` at once, when sign-in ends
and every grant is revoked but the data still exists for the grace period (RISC
``account-disabled``, the account can no longer be used), and ``user.purged`` when the
worker has erased it (RISC ``account-purged``: "the account has been deleted", RISC §2.2).
"""

from __future__ import annotations

from typing import Any

RISC = "https://schemas.openid.net/secevent/risc/event-type/"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
NAMOID = "urn:namoid:event:"

EVENT_TYPES: dict[str, str] = {
    "refresh_token.replayed": NAMOID + "refresh_token.replayed",
    "authorization_code.replayed": NAMOID + "authorization_code.replayed",
    "signing_key.rotated": NAMOID + "signing_key.rotated",
    "user.disabled": RISC + "account-disabled",
    "user.enabled": RISC + "account-enabled",
    "user.deleted": RISC + "account-disabled",
    "user.purged": RISC + "account-purged",
    "session.revoked": CAEP + "session-revoked",
    "consent.withdrawn": CAEP + "session-revoked",
    "login.bruteforce_suspected": NAMOID + "login.bruteforce_suspected",
    "client.bruteforce_suspected": NAMOID + "client.bruteforce_suspected",
    "otp.flood_suspected": NAMOID + "otp.flood_suspected",
    "password.reset": RISC + "account-credential-change-required",
    "password.changed": CAEP + "credential-change",
    "user.identifier_changed": RISC + "identifier-changed",
    "ratelimit.degraded": NAMOID + "ratelimit.degraded",
    "client.created": NAMOID + "client.created",
    "client.updated": NAMOID + "client.updated",
    "client.secret_rotated": NAMOID + "client.secret_rotated",
    "client.disabled": NAMOID + "client.disabled",
    "client.enabled": NAMOID + "client.enabled",
}


def event_type(name: str) -> str:
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a catalogued security event") from None


def user_subject(user_id: object) -> dict[str, Any]:
    """RFC 9493 §3.2.5 ``iss_sub``; the issuer is filled in when the SET is built."""
    return {"format": "iss_sub", "sub": str(user_id)}


def opaque_subject(identifier: str) -> dict[str, Any]:
    """RFC 9493 §3.2.4 ``opaque``: a client, a key, a session or the service itself."""
    return {"format": "opaque", "id": identifier}
