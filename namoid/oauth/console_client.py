"""NamoID's own consoles as relying parties of their org: an ordinary NamoID sign-in.

Each org has two public first-party clients, registered on first use
(``client_registry.ensure_registered``) so their redirect URIs follow the configured origins
without a migration: the account console ``namoid-account`` (issue 13, redirect URI
``{issuer}/account/callback``) and the admin console ``namoid-admin-console`` (issue 16, on the
admin origin: ``{admin_base}/console/o/{slug}/callback``). A console signs in with the
authorization code flow and PKCE S256 (OAuth 2.1 §4.1), redeems the code through the token
endpoint's own service (``oauth.token.exchange``) and validates the ID token as any relying
party must (OIDC Core §3.1.3.7): signature, ``iss``, ``aud`` (sole), ``azp``, ``exp``,
``nonce``, and ``auth_time`` against the requested ``max_age`` (§3.1.2.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from namoid.crypto.secrets import constant_time_equals
from namoid.jose import jwt
from namoid.oauth import client_metadata, client_registry
from namoid.signing import ORG_KEY_ALG
from namoid.storage.db import Database
from namoid.storage.models import Client, Organization

CONSOLE_SCOPE = "openid"
#: Seconds an ``auth_time`` may exceed a requested ``max_age`` by: the time between the
#: sign-in and the callback, on a slow link.
AUTH_TIME_LEEWAY = 60


@dataclass(frozen=True, slots=True)
class ConsoleClient:
    """One of NamoID's consoles, as a client of each org."""

    client_id: str
    name: str


ACCOUNT = ConsoleClient("namoid-account", "Your account")
ADMIN = ConsoleClient("namoid-admin-console", "Admin console")
#: Kept for the account console's callers.
CONSOLE_CLIENT_ID = ACCOUNT.client_id
#: NamoID's own pages, not relying parties: nothing is shared with them, nothing is recorded.
CONSOLE_CLIENT_IDS = frozenset({ACCOUNT.client_id, ADMIN.client_id})


class ConsoleSignInFailed(ValueError):
    """The console's sign-in response did not validate; nothing is signed in."""


@dataclass(frozen=True, slots=True)
class Identity:
    """What a validated ID token says: who, in which browser session, authenticated when."""

    subject: str
    sid: str
    auth_time: int


def redirect_uri(issuer: str) -> str:
    """The account console's callback."""
    return f"{issuer}/account/callback"


def admin_redirect_uri(admin_base_url: str, slug: str) -> str:
    """The admin console's callback, on the admin origin."""
    return f"{admin_base_url}/console/o/{slug}/callback"


async def ensure(db: Database, org: Organization, uri: str, console: ConsoleClient = ACCOUNT) -> Client:
    """The org's client for ``console`` with the redirect URI ``uri``, registered if it is not yet
    (idempotent)."""
    meta = client_metadata.validate(
        name=console.name,
        client_type="public",
        redirect_uris=[uri],
        grant_types=["authorization_code"],
        scopes=[CONSOLE_SCOPE],
        first_party=True,
    )
    return await client_registry.ensure_registered(db, org.id, console.client_id, meta)


def verify_id_token(
    id_token: str,
    published: Sequence[dict[str, Any]],
    *,
    issuer: str,
    nonce: str,
    max_age: int | None,
    now: int,
    client_id: str = CONSOLE_CLIENT_ID,
) -> Identity:
    """OIDC Core §3.1.3.7 for a console's ID token; ConsoleSignInFailed if any check fails."""
    try:
        claims = jwt.verify(
            id_token,
            published,
            algorithms=(ORG_KEY_ALG,),
            issuer=issuer,
            audience=client_id,
            sole_audience=True,
            now=now,
        )
    except jwt.JWTError as exc:
        raise ConsoleSignInFailed("the ID token did not verify") from exc
    given_nonce, sid, subject = claims.get("nonce"), claims.get("sid"), claims.get("sub")
    if not isinstance(given_nonce, str) or not constant_time_equals(given_nonce, nonce):
        raise ConsoleSignInFailed("the ID token's nonce does not match")
    if claims.get("azp", client_id) != client_id:
        raise ConsoleSignInFailed("the ID token was issued to another client")
    auth_time = claims.get("auth_time")
    if not isinstance(sid, str) or not isinstance(subject, str) or not isinstance(auth_time, int):
        raise ConsoleSignInFailed("the ID token lacks sub, sid or auth_time")
    if max_age is not None and now - auth_time > max_age + AUTH_TIME_LEEWAY:
        raise ConsoleSignInFailed("the sign-in is older than the requested max_age")
    return Identity(subject, sid, auth_time)
