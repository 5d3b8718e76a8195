"""RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0 §2, §3).

Pure: the caller supplies the org's published keys and looks up the client this module names.
A post-logout redirect happens only to a URI registered for a client the request verifiably
identifies; anything doubtful ends in the signed-out page instead (§3, §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from namoid.jose.jwt import JWTError, typ_matches, unverified_header, verify
from namoid.oauth.authorize import Parameters
from namoid.oauth.tokens import ACCESS_TOKEN_TYP
from namoid.storage.models import Client

#: §2: "The OP SHOULD accept ID Tokens ... even when the exp time has passed" (here: ten years).
HINT_LEEWAY = 10 * 366 * 86400


@dataclass(frozen=True, slots=True)
class LogoutRequest:
    """What to do after the user confirmed: where to send them (verified) and with which state."""

    client_id: str | None
    post_logout_redirect_uri: str | None
    state: str | None


def verify_hint(token: str, published: Sequence[dict[str, Any]], issuer: str) -> frozenset[str] | None:
    """§2: the hint must be an ID token this issuer signed (expiry is ignored); its audiences,
    the clients it was issued to, or None if it does not verify."""
    try:
        claims = verify(token, published, issuer=issuer, audience=None, leeway=HINT_LEEWAY)
        typ = unverified_header(token).get("typ")
    except JWTError:
        return None
    if typ_matches(typ, ACCESS_TOKEN_TYP):
        return None  # an access token (RFC 9068 §2.1) is no ID token
    return _audiences(claims.get("aud")) or None


def _audiences(aud: object) -> frozenset[str]:
    if isinstance(aud, str):
        return frozenset({aud})
    if isinstance(aud, list):
        return frozenset(a for a in aud if isinstance(a, str))
    return frozenset()


def client_id_of(params: Parameters, audiences: frozenset[str] | None) -> str | None:
    """§2: the client is named by ``client_id``, by the hint's audience, or by both when they agree."""
    client_id = params.values.get("client_id")
    if audiences is None:
        return client_id
    if client_id is None:
        return next(iter(audiences)) if len(audiences) == 1 else None
    return client_id if client_id in audiences else None


def resolve(
    params: Parameters, *, hint_given: bool, audiences: frozenset[str] | None, client: Client | None
) -> LogoutRequest:
    """§3: redirect only to a ``post_logout_redirect_uri`` registered for the identified, active
    client, and only if a given hint verified; ``state`` is passed back with it."""
    uri = params.values.get("post_logout_redirect_uri")
    trusted = (
        uri is not None
        and not params.repeated
        and not (hint_given and audiences is None)
        and client is not None
        and client.status == "active"
        and uri in client.post_logout_redirect_uris
    )
    return LogoutRequest(
        client_id=client.client_id if client is not None else None,
        post_logout_redirect_uri=uri if trusted else None,
        state=params.values.get("state") if trusted else None,
    )
