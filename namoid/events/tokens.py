"""Security Event Tokens (RFC 8417) for delivery: one event per SET, signed with the org's key."""

from __future__ import annotations

from typing import Any

from namoid.events.catalog import event_type
from namoid.jose import jwt
from namoid.jose.keys import PrivateSigningKey
from namoid.storage.models import SecurityEvent

#: RFC 8417 §2.3: the explicit type of a SET.
SET_TYP = "secevent+jwt"


def set_claims(event: SecurityEvent, issuer: str, audience: str) -> dict[str, Any]:
    """The SET's claims: deterministic for an event and audience, so a retry sends the same ``jti``.

    ``sub_id`` is the subject identifier (RFC 9493, as the OpenID Shared Signals Framework
    places it); an ``iss_sub`` subject gets the org's issuer. There is no ``exp`` (RFC 8417 §2.2).
    """
    subject = dict(event.subject)
    if subject.get("format") == "iss_sub":
        subject["iss"] = issuer
    return {
        "iss": issuer,
        "jti": event.id.hex,
        "iat": int(event.occurred_at.timestamp()),
        "aud": audience,
        "sub_id": subject,
        "events": {event_type(event.name): dict(event.payload)},
    }


def security_event_token(event: SecurityEvent, issuer: str, audience: str, key: PrivateSigningKey) -> str:
    return jwt.sign(set_claims(event, issuer, audience), key, typ=SET_TYP)
