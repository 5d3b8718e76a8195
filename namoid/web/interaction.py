"""Browser-facing protocol routes under ``/o/{org}``: authorize, login, consent (and logout).

``/authorize`` validates the request (namoid.oauth.authorize), then either answers at once
(a signed-in user who already consented) or stores it and sends the browser to ``/login`` or
``/consent?req=<handle>``; the consent step issues the code. Every answer on the client's
redirect URI carries ``iss`` (RFC 9207).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from namoid import audit
from namoid.accounts import login as password_login
from namoid.accounts import sessions
from namoid.crypto import device_cookies
from namoid.crypto.secrets import new_token
from namoid.oauth import authorize as authorize_request
from namoid.oauth import codes, interactions
from namoid.oauth.authorization_response import Reply, csp_source, with_query
from namoid.oauth.authorize import AuthorizationParams, Parameters, Rejected
from namoid.oauth.console_client import CONSOLE_CLIENT_IDS
from namoid.oauth.errors import AccessDenied, InvalidRedirectUri, OAuthError
from namoid.privacy import client_grants, notices
from namoid.providers import exchange_policy
from namoid.ratelimit import login as login_limits
from namoid.ratelimit.keys import request_ip
from namoid.services import Services
from namoid.storage.models import AuthorizationRequest, BrowserSession, Client, Organization, utcnow
from namoid.storage.repos import authorization_requests, clients
from namoid.tenancy.resolve import current_org, issuer_for
from namoid.web import code_forms, limits, logout
from namoid.web.code_messages import choose_locale
from namoid.web.cookies import (
    DEVICE_COOKIE_MAX_AGE,
    read_device_cookie,
    read_session_token,
    set_device_cookie,
    set_session_cookie,
)
from namoid.web.csrf import csrf_token, csrf_valid
from namoid.web.providers import sign_in_buttons as provider_buttons
from namoid.web.responses import page, problem, request_pairs

router = APIRouter()
CurrentOrg = Annotated[Organization, Depends(current_org)]
router.include_router(logout.router)

#: How long a user has to sign in and consent.
REQUEST_TTL = timedelta(minutes=10)
LOGIN_FAILED = "That email and password do not match an account. Check them and try again."
#: What the sign-in page says after a flow sent the browser back to it (``?done=``).
NOTICES = {"reset": "Your password has been changed and you were signed out everywhere. Sign in with it."}
MAX_CLIENT_ID = 64
MAX_EMAIL_ECHO = 320
_HANDLE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

SCOPE_DESCRIPTIONS = {
    "openid": "Know who you are (a stable account identifier)",
    "profile": "See your name",
    "email": "See your email address",
    "phone": "See your phone number",
    "offline_access": "Stay connected while you are not using it",
    "kyc": "Submit your Aadhaar offline e-KYC file for verification",
}


@dataclass(frozen=True, slots=True)
class Pending:
    """A stored authorization request, still open, with its (active) client."""

    row: AuthorizationRequest
    params: AuthorizationParams
    client: Client

    @property
    def handle(self) -> str:
        return self.row.handle


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _issuer(request: Request, org: Organization) -> str:
    return issuer_for(_services(request).settings.base_url, org.slug)


def _form_targets(params: AuthorizationParams) -> list[str]:
    source = csp_source(params.redirect_uri)
    return [source] if source is not None else []


def _field(pairs: list[tuple[str, str]], name: str) -> str:
    """The first value of a form field ('' if absent)."""
    return next((value for key, value in pairs if key == name), "")


async def _active_client(session: AsyncSession, org: Organization, client_id: str | None) -> Client | None:
    if client_id is None or len(client_id) > MAX_CLIENT_ID:
        return None
    client = await clients.get(session, org.id, client_id)
    return client if client is not None and client.status == "active" else None


async def _pending(session: AsyncSession, org: Organization, handle: str | None) -> Pending | None:
    if handle is None or not _HANDLE.match(handle):
        return None
    row = await authorization_requests.find_pending(session, org.id, handle, utcnow())
    client = await _active_client(session, org, row.client_id) if row is not None else None
    if row is None or client is None:
        return None
    return Pending(row, AuthorizationParams.from_json(row.params), client)


def _expired(request: Request) -> Response:
    return problem(
        request,
        400,
        "This sign-in request has expired",
        "It was already used or is too old. Return to the application and sign in again.",
    )


# --- answering the client -----------------------------------------------------------------


def _answer(request: Request, reply: Reply, pairs: list[tuple[str, str]], client_name: str) -> Response:
    """Query (RFC 6749 §4.1.2) or form_post (Form Post Response Mode §2); never cached."""
    if reply.response_mode == "form_post":
        source = csp_source(reply.redirect_uri)
        context = {"action": reply.redirect_uri, "fields": pairs, "client_name": client_name}
        return page(request, "form_post.html", context, form_targets=[source] if source else [])
    return RedirectResponse(
        with_query(reply.redirect_uri, pairs), status_code=303, headers={"Cache-Control": "no-store"}
    )


def _answer_error(
    request: Request, org: Organization, reply: Reply, error: OAuthError, client_name: str
) -> Response:
    return _answer(request, reply, reply.error(error, _issuer(request, org)), client_name)


async def _issue(
    session: AsyncSession,
    request: Request,
    org: Organization,
    params: AuthorizationParams,
    user: sessions.SignedIn,
    client: Client,
    consent_shown: bool = False,
) -> Response:
    """Issue the code (RFC 6749 §4.1.2) bound to the request, the user and the session; audited.

    ``verified_claims`` (IDA 1.0), in the ID token or at UserInfo, only when ``consent_shown``:
    the user just answered the consent form that named them. A request answered without
    showing it (consent remembered, first party) releases none. A first-party client's implied
    grant goes into the consent ledger here (namoid.privacy.client_grants); the account and admin
    consoles are NamoID's own pages, not relying parties: nothing is shared with them, nothing is
    recorded.
    """
    if client.first_party and client.client_id not in CONSOLE_CLIENT_IDS:
        language = choose_locale(request.headers.get("accept-language"))
        await client_grants.imply_first_party(session, org.id, user.user.id, client, params.scopes, language)
    code = await codes.issue(
        session,
        org,
        codes.CodeGrant(
            client_id=params.client_id,
            user_id=user.user.id,
            redirect_uri=params.redirect_uri,
            scope=params.scope,
            code_challenge=params.code_challenge,
            nonce=params.nonce,
            sid=user.browser.sid,
            auth_time=user.auth_time,
            amr=list(user.browser.amr),
            verified_claims=params.verified_claims if consent_shown else (),
            userinfo_verified_claims=params.userinfo_verified_claims if consent_shown else (),
        ),
    )
    await audit.record(
        session,
        org.id,
        actor=audit.Actor("user", str(user.user.id)),
        action="authorization.granted",
        target_type="client",
        target_id=params.client_id,
        detail={"scope": params.scope, "sid": user.browser.sid},
    )
    return _answer(request, params.reply, params.reply.code(code, _issuer(request, org)), client.name)


async def _granted(
    session: AsyncSession, org: Organization, user: sessions.SignedIn | None, client_id: str
) -> list[str] | None:
    if user is None:
        return None
    return await client_grants.standing_scopes(session, org.id, user.user.id, client_id)


# --- /authorize ---------------------------------------------------------------------------


async def _audit_rejection(
    session: AsyncSession, org: Organization, params: Parameters, rejected: Rejected
) -> None:
    client_id = params.values.get("client_id", "")[:MAX_CLIENT_ID]
    detail = {"error": rejected.error.error, "reason": rejected.error.description, "client_id": client_id}
    if isinstance(rejected.error, InvalidRedirectUri):
        detail["redirect_uri"] = params.values.get("redirect_uri", "")[:300]
    await audit.record(
        session,
        org.id,
        actor=audit.Actor("client", client_id if rejected.reply is not None else None),
        action="authorize.rejected",
        target_type="client",
        target_id=client_id or None,
        outcome="denied",
        detail=detail,
    )


def _rejected(request: Request, org: Organization, rejected: Rejected, client: Client | None) -> Response:
    """RFC 6749 §4.1.2.1: untrusted client or redirect URI → error page; else back to the client."""
    if rejected.reply is None or client is None:
        return problem(
            request,
            400,
            "This sign-in request is not valid",
            f"{rejected.error.description}. Return to the application and try again.",
        )
    return _answer_error(request, org, rejected.reply, rejected.error, client.name)


@router.api_route("/authorize", methods=["GET", "POST"], include_in_schema=False)
async def authorize(request: Request, org: CurrentOrg) -> Response:
    """RFC 6749 §4.1.1, OIDC Core §3.1.2.1 (GET query or POST form)."""
    refused = await limits.ceiling(request, org, "authorize.ip")
    if refused is not None:
        return refused
    params = authorize_request.parse(await request_pairs(request))
    now = utcnow()
    async with _services(request).db.tenant(org.id) as session:
        client = await _active_client(session, org, params.values.get("client_id"))
        try:
            client, validated = authorize_request.validate(params, client)
        except Rejected as rejected:
            await _audit_rejection(session, org, params, rejected)
            return _rejected(request, org, rejected, client)
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        user = await sessions.signed_in(session, org.id, browser)
        try:
            step = interactions.next_step(
                validated,
                started_at=now,
                auth=user,
                granted=await _granted(session, org, user, client.client_id),
                first_party=client.first_party,
                now=now,
            )
        except OAuthError as error:
            return _answer_error(request, org, validated.reply, error, client.name)
        if not isinstance(step, str):
            return await _issue(session, request, org, validated, step, client)
        handle = new_token(32)
        row = AuthorizationRequest(
            handle=handle,
            client_id=client.client_id,
            params=validated.to_json(),
            created_at=now,
            expires_at=now + REQUEST_TTL,
        )
        await authorization_requests.add(session, org.id, row)
        await audit.record(
            session,
            org.id,
            actor=audit.Actor("client", client.client_id),
            action="authorization.requested",
            target_type="authorization_request",
            target_id=str(row.id),
            detail={"client_id": client.client_id, "scope": validated.scope, "next": step},
        )
    return _to_interaction(org, step, handle)


def _to_interaction(org: Organization, step: interactions.Interaction, handle: str) -> Response:
    return RedirectResponse(
        f"/o/{org.slug}/{step}?req={handle}", status_code=303, headers={"Cache-Control": "no-store"}
    )


# --- /login -------------------------------------------------------------------------------


def _login_form(
    request: Request,
    org: Organization,
    pending: Pending,
    browser: BrowserSession,
    *,
    email: str,
    error: str | None,
    providers: Sequence[tuple[str, str]] = (),
    notice: str | None = None,
) -> Response:
    context = {
        "org_slug": org.slug,
        "providers": providers,
        "action": f"/o/{org.slug}/login",
        "req": pending.handle,
        "csrf_token": csrf_token(browser),
        "client_name": pending.client.name,
        "email": email[:MAX_EMAIL_ECHO],
        "error": error,
        "notice": notice,
        # The org's sign-in policy (namoid.tenancy.sign_in): which forms and code links show.
        "methods": org.sign_in_methods,
        "registration_open": org.registration == "open",
        "code_url": f"/o/{org.slug}/code?req={pending.handle}",
    }
    return page(request, "login.html", context, form_targets=_form_targets(pending.params))


@router.get("/login", include_in_schema=False)
async def login_page(request: Request, org: CurrentOrg) -> Response:
    """The sign-in form (OIDC Core §3.1.2.3); starts an anonymous session for its CSRF token."""
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    now = utcnow()
    started = None
    async with _services(request).db.tenant(org.id) as session:
        pending = await _pending(session, org, request.query_params.get("req"))
        if pending is None:
            return await limits.refuse(request, org, _expired(request), session)
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        if browser is None:
            started = await sessions.start(session, org, user=None, amr=[], now=now)
            browser = started.row
        buttons = await provider_buttons(session, org)
    hint = pending.params.login_hint or ""
    notice = NOTICES.get(request.query_params.get("done", ""))
    response = _login_form(
        request, org, pending, browser, email=hint, error=None, providers=buttons, notice=notice
    )
    if started is not None:
        set_session_cookie(response, org.slug, started.token, browser.expires_at, now)
    return response


def _device(request: Request, org: Organization, account: str, now: datetime) -> str | None:
    """The identity of the browser's device cookie, if it is valid for ``account``."""
    cookie = read_device_cookie(request, org.slug)
    pepper = _services(request).keyring.pepper
    device = device_cookies.verify(pepper, cookie, account, int(now.timestamp()), DEVICE_COOKIE_MAX_AGE)
    return device.nonce if device is not None else None


@router.post("/login", include_in_schema=False)
async def login(request: Request, org: CurrentOrg) -> Response:
    """Check email and password; on success a new session (and cookie) replaces the old one.

    Cheapest first (namoid.ratelimit.login): the IP's flood ceiling; the session, CSRF token
    and sign-in request (a refusal spends no shared budget); the failure limits, unless the
    browser's device cookie is for this account; only then the password. A success renews the
    device cookie.
    """
    services = _services(request)
    ip = request_ip(request)
    flooded = await login_limits.flood_ceiling(services.limiter, org.slug, ip)
    if flooded is not None:
        return await limits.too_many(request, org, flooded)
    form = await request_pairs(request)
    now = utcnow()
    async with services.db.tenant(org.id) as session:
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        if browser is None or not csrf_valid(browser, _field(form, "csrf_token")):
            return await limits.refuse_form(session, request, org, browser, "login")
        pending = await _pending(session, org, _field(form, "req"))
    if pending is None:
        return await limits.refuse(request, org, _expired(request))
    if "password" not in org.sign_in_methods:
        return problem(request, 400, "Passwords are not used here", "Go back and sign in with a code.")
    email = _field(form, "email")
    account = login_limits.account_key(services.keyring.pepper, org.id, email)
    attempt = login_limits.Attempt(org.slug, ip, account, _device(request, org, account, now))
    refused = await login_limits.admit(services.limiter, attempt)
    if refused is not None:
        return await limits.too_many(request, org, refused)
    checked = await password_login.check_password(services.db, org.id, email, _field(form, "password"))
    async with services.db.tenant(org.id) as session:
        if checked.user is None or checked.failure is not None:
            client_id = pending.client.client_id
            await password_login.record_failure(session, org.id, checked, client_id)
            locked = await login_limits.failed(services.limiter, attempt)
            if locked:
                await password_login.record_lockout(session, org.id, checked, account, client_id, locked)
            buttons = await provider_buttons(session, org)
            return _login_form(
                request, org, pending, browser, email=email.strip(), error=LOGIN_FAILED, providers=buttons
            )
        second = code_forms.second_factor_channel(org, checked.user)
        if second is None:
            try:
                started = await password_login.sign_in(
                    session, org, checked.user, previous=browser, client_id=pending.client.client_id, now=now
                )
            except password_login.AccountInactive:  # deleted or disabled since the password was checked
                inactive = password_login.Attempt(checked.user, "disabled")
                await password_login.record_failure(session, org.id, inactive, pending.client.client_id)
                buttons = await provider_buttons(session, org)
                return _login_form(
                    request, org, pending, browser, email=email.strip(), error=LOGIN_FAILED, providers=buttons
                )
    if second is not None:  # the password was right; the session starts once the code comes back
        step = code_forms.CodeStep(
            org, pending.handle, pending.client.client_id, pending.client.name,
            _form_targets(pending.params), browser, "second_factor", *second,
            ui_locales=pending.params.ui_locales,
        )  # fmt: skip
        return await code_forms.send_and_ask(request, step)
    response = _to_interaction(org, "consent", pending.handle)
    set_session_cookie(response, org.slug, started.token, started.row.expires_at, now)
    device = device_cookies.issue(services.keyring.pepper, account, int(now.timestamp()))
    set_device_cookie(response, org.slug, device)
    return response


# --- /consent -----------------------------------------------------------------------------


async def _scope_line(
    session: AsyncSession, org: Organization, pending: Pending, user: sessions.SignedIn, scope: str
) -> str:
    """The consent screen's line for one scope; ``provider:NAME`` names the provider and the grant."""
    if scope.startswith(exchange_policy.SCOPE_PREFIX):
        client = pending.client
        return await exchange_policy.consent_line(
            session, org.id, client.client_id, client.name, user.user.id, scope
        )
    return SCOPE_DESCRIPTIONS.get(scope, f"Use “{scope}”")


async def _consent_form(
    session: AsyncSession,
    request: Request,
    org: Organization,
    pending: Pending,
    user: sessions.SignedIn,
    notice: notices.NoticeText,
) -> Response:
    """The consent page with the org's current notice (DPDP s.5), shown as escaped paragraphs."""
    scopes = [(s, await _scope_line(session, org, pending, user, s)) for s in pending.params.scopes]
    context = {
        "notice": notice,
        "notice_field": f"{notice.language}:{notice.version}",
        "action": f"/o/{org.slug}/consent",
        "switch_account": f"/o/{org.slug}/login?req={pending.handle}",
        "req": pending.handle,
        "csrf_token": csrf_token(user.browser),
        "client_name": pending.client.name,
        "user_email": user.user.email,
        "scopes": scopes,
        "verified_claims": bool(pending.params.verified_claims or pending.params.userinfo_verified_claims),
        "kyc_notice": "kyc" in pending.params.scopes,
        "kyc_page": f"/o/{org.slug}/account/kyc",
    }
    return page(request, "consent.html", context, form_targets=_form_targets(pending.params))


@router.get("/consent", include_in_schema=False)
async def consent_page(request: Request, org: CurrentOrg) -> Response:
    """OIDC Core §3.1.2.4: ask for consent, unless it is not needed (then issue the code)."""
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    now = utcnow()
    async with _services(request).db.tenant(org.id) as session:
        pending = await _pending(session, org, request.query_params.get("req"))
        if pending is None:
            return await limits.refuse(request, org, _expired(request), session)
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        user = await sessions.signed_in(session, org.id, browser)
        try:
            step = interactions.next_step(
                pending.params,
                started_at=pending.row.created_at,
                auth=user,
                granted=await _granted(session, org, user, pending.client.client_id),
                first_party=pending.client.first_party,
                now=now,
            )
        except OAuthError as error:
            return _answer_error(request, org, pending.params.reply, error, pending.client.name)
        if isinstance(step, str):
            if step == "login" or user is None:
                return _to_interaction(org, "login", pending.handle)
            notice = await notices.current(
                session, org.id, choose_locale(request.headers.get("accept-language"))
            )
            return await _consent_form(session, request, org, pending, user, notice)
        if not await authorization_requests.complete(session, org.id, pending.row.id, now):
            return _expired(request)
        return await _issue(session, request, org, pending.params, step, pending.client)


async def _record_denial(
    session: AsyncSession, org: Organization, user: sessions.SignedIn, pending: Pending
) -> None:
    await audit.record(
        session,
        org.id,
        actor=audit.Actor("user", str(user.user.id)),
        action="consent.denied",
        target_type="client",
        target_id=pending.client.client_id,
        outcome="denied",
        detail={"scope": pending.params.scope},
    )


async def _notice_shown(session: AsyncSession, org: Organization, field: str) -> notices.NoticeText | None:
    """The notice the form showed (``language:version``) if it is still the current one."""
    language, _, version = field.partition(":")
    if language not in notices.LANGUAGES:
        return None
    current = await notices.current(session, org.id, language)
    return current if current.version == version else None


@router.post("/consent", include_in_schema=False)
async def consent(request: Request, org: CurrentOrg) -> Response:
    """The user's decision: allow (remembered and recorded in the consent ledger, then the code)
    or deny (``access_denied``).

    The stored request is completed first, in one UPDATE: a replayed post issues nothing. An
    allow given under a notice that has since been replaced shows the form again, with the new one.
    """
    form = await request_pairs(request)
    now = utcnow()
    async with _services(request).db.tenant(org.id) as session:
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        if browser is None or not csrf_valid(browser, _field(form, "csrf_token")):
            return await limits.refuse_form(session, request, org, browser, "consent")
        pending = await _pending(session, org, _field(form, "req"))
        if pending is None:
            return await limits.refuse(request, org, _expired(request), session)
        user = await sessions.signed_in(session, org.id, browser)
        if user is None or interactions.login_needed(pending.params, pending.row.created_at, user, now):
            return _to_interaction(org, "login", pending.handle)
        decision = _field(form, "decision")
        if decision not in ("allow", "deny"):
            return problem(request, 400, "Choose allow or deny", "Go back and choose one of the buttons.")
        notice = await _notice_shown(session, org, _field(form, "notice"))
        if decision == "allow" and notice is None:
            language = choose_locale(request.headers.get("accept-language"))
            return await _consent_form(
                session, request, org, pending, user, await notices.current(session, org.id, language)
            )
        if not await authorization_requests.complete(session, org.id, pending.row.id, now):
            return _expired(request)
        if decision == "deny" or notice is None:
            await _record_denial(session, org, user, pending)
            denied = AccessDenied("the user denied the request")
            return _answer_error(request, org, pending.params.reply, denied, pending.client.name)
        released = (*pending.params.verified_claims, *pending.params.userinfo_verified_claims)
        await client_grants.record(
            session, org.id, user.user.id, pending.client, pending.params.scopes, notice,
            action=client_grants.CLICKED_ALLOW, verified_claims=tuple(dict.fromkeys(released)),
        )  # fmt: skip
        return await _issue(session, request, org, pending.params, user, pending.client, consent_shown=True)
