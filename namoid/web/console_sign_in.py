"""A console's own sign-in as a relying party of its org (``oauth.console_client``), shared by
the account console (``web.account.sign_in``) and the admin console (``web.admin_console.sign_in``).

``begin`` keeps a fresh ``state``, ``nonce`` and PKCE verifier (RFC 7636 §4.1) in a short-lived
cookie sealed under the keyring (bound to the org and the console's client) and sends the
browser to the org's ``/authorize``. ``finish`` checks ``state`` (RFC 6749 §10.12) and ``iss``
(RFC 9207 §2.4), redeems the code through the token endpoint's own service
(``oauth.token.exchange``: client, redirect URI, PKCE, single use, audited) and validates the ID
token (OIDC Core §3.1.3.7). Each console then decides whether the browser session the token
names may use it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse

from namoid.crypto.keyring import KeyringError
from namoid.crypto.secrets import constant_time_equals, new_token
from namoid.oauth import console_client, pkce, token
from namoid.oauth.console_client import ConsoleClient, ConsoleSignInFailed, Identity
from namoid.oauth.errors import OAuthError
from namoid.ratelimit.keys import request_ip
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.web.cookies import clear_console_cookie, set_console_cookie

#: How long a console sign-in may take (as long as an authorization request lives).
START_TTL = timedelta(minutes=10)
#: The longest step-up ``max_age`` accepted in the sign-in link.
MAX_STEP_UP = 86400
_MAX_AGE = re.compile(r"[0-9]{1,6}")
_AAD = b"namoid/console-sign-in/v1\n"


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """One console of one org: its client, where it comes back to, where it signs in."""

    org: Organization
    console: ConsoleClient
    issuer: str
    redirect_uri: str
    #: The org's authorization endpoint as this console's browser reaches it.
    authorize_url: str
    #: The name of the cookie holding a sign-in in progress.
    start_cookie: str


@dataclass(frozen=True, slots=True)
class Start:
    """A console sign-in in progress, sealed in its cookie."""

    state: str
    nonce: str
    verifier: str
    return_to: str
    max_age: int | None
    started_at: int


class Declined(Exception):
    """The callback did not sign anyone in; ``counted``: it failed a check (an attacker's probe
    counts against the IP's refusals), rather than the user cancelling."""

    def __init__(self, reason: str, *, counted: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.counted = counted


def seal(services: Services, purpose: bytes, org: Organization, value: dict[str, Any]) -> str:
    """``value`` as JSON, encrypted under the keyring and bound to ``purpose`` and ``org``."""
    return services.keyring.encrypt(json.dumps(value).encode(), purpose + org.id.bytes)


def unseal(services: Services, purpose: bytes, org: Organization, value: str | None) -> dict[str, Any] | None:
    """What ``seal`` sealed, or None if it is missing, too long or forged."""
    if not value or len(value) > 2048:
        return None
    try:
        found = json.loads(services.keyring.decrypt(value, purpose + org.id.bytes))
    except (KeyringError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _purpose(rp: RelyingParty) -> bytes:
    return _AAD + rp.console.client_id.encode() + b"\n"


def _started(services: Services, rp: RelyingParty, value: str | None, now: int) -> Start | None:
    found = unseal(services, _purpose(rp), rp.org, value)
    try:
        start = Start(**found) if found is not None else None
    except TypeError:
        return None
    if start is None or not now - START_TTL.total_seconds() < start.started_at <= now:
        return None
    return start


def begin(services: Services, rp: RelyingParty, return_to: str, max_age: str | None) -> RedirectResponse:
    """The authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3) coming back to ``return_to``
    (a path the console checked); ``max_age`` as the query gave it (a step-up, else ignored)."""
    requested = max_age or ""
    start = Start(
        state=new_token(24),
        nonce=new_token(24),
        verifier=new_token(48),
        return_to=return_to,
        max_age=min(int(requested), MAX_STEP_UP) if _MAX_AGE.fullmatch(requested) else None,
        started_at=int(utcnow().timestamp()),
    )
    query = {
        "response_type": "code",
        "client_id": rp.console.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": console_client.CONSOLE_SCOPE,
        "state": start.state,
        "nonce": start.nonce,
        "code_challenge": pkce.s256(start.verifier),
        "code_challenge_method": "S256",
    }
    if start.max_age is not None:
        query["max_age"] = str(start.max_age)
    response = RedirectResponse(
        f"{rp.authorize_url}?{urlencode(query)}", status_code=303, headers={"Cache-Control": "no-store"}
    )
    cookie = seal(services, _purpose(rp), rp.org, asdict(start))
    set_console_cookie(response, rp.start_cookie, cookie, int(START_TTL.total_seconds()))
    return response


async def finish(services: Services, request: Request, rp: RelyingParty) -> tuple[Identity, Start]:
    """The authorization response (RFC 6749 §4.1.2), validated: who signed in, and the sign-in
    it answers; ``Declined`` otherwise."""
    now = int(utcnow().timestamp())
    query = request.query_params
    start = _started(services, rp, request.cookies.get(rp.start_cookie), now)
    if start is None:
        raise Declined("The sign-in expired or was not started here.")
    if not constant_time_equals(query.get("state", ""), start.state) or query.get("iss") != rp.issuer:
        raise Declined("The answer did not match this sign-in.")
    if "error" in query or "code" not in query:
        raise Declined("The sign-in was cancelled or refused.", counted=False)
    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": rp.redirect_uri,
        "client_id": rp.console.client_id,
        "code_verifier": start.verifier,
    }
    try:
        answer = await token.exchange(services, rp.org, form, None, ip=request_ip(request))
        published = (await services.signing.for_org(rp.org)).published
        identity = console_client.verify_id_token(
            answer.get("id_token", ""), published, issuer=rp.issuer, nonce=start.nonce,
            max_age=start.max_age, now=now, client_id=rp.console.client_id,
        )  # fmt: skip
    except (OAuthError, ConsoleSignInFailed):
        raise Declined("The sign-in could not be confirmed.") from None
    return identity, start


def signed_in(
    response: RedirectResponse, rp: RelyingParty, cookie_name: str, value: str, max_age: int
) -> None:
    """Set the console's session cookie on ``response`` and drop the sign-in in progress."""
    set_console_cookie(response, cookie_name, value, max_age)
    clear_console_cookie(response, rp.start_cookie)
