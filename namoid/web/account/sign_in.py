"""The console's own sign-in: ``{issuer}/account/signin`` and ``{issuer}/account/callback``.

The console is a relying party of its org (``oauth.console_client``). ``signin`` keeps a fresh
``state``, ``nonce`` and PKCE verifier (RFC 7636 §4.1) in a short-lived cookie sealed under
the keyring (bound to the org) and sends the browser to the org's ``/authorize``. The
``callback`` checks ``state`` (RFC 6749 §10.12) and ``iss`` (RFC 9207 §2.4), redeems the code
through the token endpoint's own service (``oauth.token.exchange``: client, redirect URI,
PKCE, single use, audited), validates the ID token (OIDC Core §3.1.3.7) and requires the
browser's own live session to be the one the token names. Only then the console cookie is
set, and the browser returns to the console page it came from (a same-origin console path).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from namoid.accounts import sessions
from namoid.crypto import console_cookies
from namoid.crypto.keyring import KeyringError
from namoid.crypto.secrets import constant_time_equals, new_token
from namoid.oauth import console_client, pkce, token
from namoid.oauth.console_client import CONSOLE_CLIENT_ID, ConsoleSignInFailed
from namoid.oauth.errors import OAuthError
from namoid.ratelimit.keys import request_ip
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.tenancy.resolve import current_org, issuer_for
from namoid.web import limits
from namoid.web.account.console_auth import safe_return
from namoid.web.cookies import (
    clear_console_cookie,
    console_cookie_name,
    console_start_cookie_name,
    read_session_token,
    set_console_cookie,
)
from namoid.web.responses import problem

router = APIRouter()
CurrentOrg = Annotated[Organization, Depends(current_org)]
#: How long a console sign-in may take (as long as an authorization request lives).
START_TTL = timedelta(minutes=10)
#: The longest step-up ``max_age`` accepted in the sign-in link.
MAX_STEP_UP = 86400
_MAX_AGE = re.compile(r"[0-9]{1,6}")
_AAD = b"namoid/console-sign-in/v1\n"


@dataclass(frozen=True, slots=True)
class _Start:
    """A console sign-in in progress, sealed in its cookie."""

    state: str
    nonce: str
    verifier: str
    return_to: str
    max_age: int | None
    started_at: int


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _seal(services: Services, org: Organization, start: _Start) -> str:
    return services.keyring.encrypt(json.dumps(asdict(start)).encode(), _AAD + org.id.bytes)


def _unseal(services: Services, org: Organization, value: str | None, now: int) -> _Start | None:
    """The sign-in this browser started at this org, unless it is missing, forged or too old."""
    if not value or len(value) > 2048:
        return None
    try:
        start = _Start(**json.loads(services.keyring.decrypt(value, _AAD + org.id.bytes)))
    except (KeyringError, ValueError, TypeError):
        return None
    return start if now - START_TTL.total_seconds() < start.started_at <= now else None


def _failed(request: Request, org: Organization, reason: str) -> Response:
    again = f"/o/{org.slug}/account"
    return problem(
        request, 400, "Signing in to your account did not work",
        f"{reason} Nothing was changed. Open {again} to start again.",
    )  # fmt: skip


async def _refused(request: Request, org: Organization, reason: str) -> Response:
    """A callback that failed a check: the error page, counted against the IP's refusals."""
    return await limits.refuse(request, org, _failed(request, org, reason))


@router.get("/account/signin", include_in_schema=False)
async def sign_in(request: Request, org: CurrentOrg) -> Response:
    """Start the console's authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3)."""
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    services = _services(request)
    issuer = issuer_for(services.settings.base_url, org.slug)
    await console_client.ensure(services.db, org, issuer)
    requested = request.query_params.get("max_age", "")
    now = int(utcnow().timestamp())
    start = _Start(
        state=new_token(24),
        nonce=new_token(24),
        verifier=new_token(48),
        return_to=safe_return(org, request.query_params.get("next")),
        max_age=min(int(requested), MAX_STEP_UP) if _MAX_AGE.fullmatch(requested) else None,
        started_at=now,
    )
    query = {
        "response_type": "code",
        "client_id": CONSOLE_CLIENT_ID,
        "redirect_uri": console_client.redirect_uri(issuer),
        "scope": console_client.CONSOLE_SCOPE,
        "state": start.state,
        "nonce": start.nonce,
        "code_challenge": pkce.s256(start.verifier),
        "code_challenge_method": "S256",
    }
    if start.max_age is not None:
        query["max_age"] = str(start.max_age)
    response = RedirectResponse(
        f"/o/{org.slug}/authorize?{urlencode(query)}", status_code=303, headers={"Cache-Control": "no-store"}
    )
    cookie = _seal(services, org, start)
    set_console_cookie(response, console_start_cookie_name(org.slug), cookie, int(START_TTL.total_seconds()))
    return response


@router.get("/account/callback", include_in_schema=False)
async def callback(request: Request, org: CurrentOrg) -> Response:
    """The authorization response (RFC 6749 §4.1.2): validate it, then the console session."""
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    services = _services(request)
    issuer = issuer_for(services.settings.base_url, org.slug)
    now = utcnow()
    query = request.query_params
    sealed = request.cookies.get(console_start_cookie_name(org.slug))
    start = _unseal(services, org, sealed, int(now.timestamp()))
    if start is None:
        return await _refused(request, org, "The sign-in expired or was not started here.")
    if not constant_time_equals(query.get("state", ""), start.state) or query.get("iss") != issuer:
        return await _refused(request, org, "The answer did not match this sign-in.")
    if "error" in query or "code" not in query:
        return _failed(request, org, "The sign-in was cancelled or refused.")
    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": console_client.redirect_uri(issuer),
        "client_id": CONSOLE_CLIENT_ID,
        "code_verifier": start.verifier,
    }
    try:
        answer = await token.exchange(services, org, form, None, ip=request_ip(request))
        published = (await services.signing.for_org(org)).published
        identity = console_client.verify_id_token(
            answer.get("id_token", ""), published,
            issuer=issuer, nonce=start.nonce, max_age=start.max_age, now=int(now.timestamp()),
        )  # fmt: skip
    except (OAuthError, ConsoleSignInFailed):
        return await _refused(request, org, "The sign-in could not be confirmed.")
    async with services.db.tenant(org.id) as session:
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        user = await sessions.signed_in(session, org.id, browser)
    if user is None or user.browser.sid != identity.sid or str(user.user.id) != identity.subject:
        return await _refused(request, org, "This browser is not signed in as that account.")
    response = RedirectResponse(start.return_to, status_code=303, headers={"Cache-Control": "no-store"})
    value = console_cookies.issue(services.keyring.pepper, org.id, identity.sid, int(now.timestamp()))
    remaining = int((user.browser.expires_at - now).total_seconds())
    set_console_cookie(response, console_cookie_name(org.slug), value, remaining)
    clear_console_cookie(response, console_start_cookie_name(org.slug))
    return response
