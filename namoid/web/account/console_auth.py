"""Who is signed in to the account console: the FastAPI dependencies every console page uses.

A console request is signed in when the browser's session cookie names a live session of an
active user *and* the console cookie (``crypto.console_cookies``) was issued for that very
session by the console's own sign-in (``account.sign_in``). The console cookie holds no state:
whatever ends the browser session (logout, sign-out everywhere, a disabled or deleted user,
another sign-in in the browser) ends the console session with it.

The API for section modules:

- ``ConsoleUser`` (``Depends(console_user)``): the signed-in ``Console``. A GET without a
  console session is redirected to the console sign-in and back to the page afterwards; any
  other method is refused (401) and changes nothing. On a POST the urlencoded form is parsed
  and its ``csrf_token`` checked (``web.csrf``; 403 and ``csrf.rejected`` otherwise): the
  fields are in ``console.form``.
- ``require_fresh_auth(max_age_seconds=300)``: the same, and the user must have
  authenticated within ``max_age_seconds`` (``Depends(require_fresh_auth())``). Otherwise a
  GET goes through ``/authorize`` with ``max_age`` (OIDC Core §3.1.2.1) and comes back; a
  POST is refused (403, ``account.step_up_required`` audited) with a link to do so first.
- ``ConsoleSession`` (``Depends(console_session)``): signed in, no form handling; for a
  multipart POST that checks its CSRF token itself (the KYC upload).

Every console request counts against ``interaction.ip`` first. Refusals are raised as
``Interrupted`` and answered by ``interrupted`` (registered on the app).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from starlette.responses import RedirectResponse, Response

from namoid import audit
from namoid.accounts import sessions
from namoid.crypto import console_cookies
from namoid.services import Services
from namoid.storage.models import BrowserSession, Organization, User, utcnow
from namoid.tenancy.resolve import current_org
from namoid.web import limits
from namoid.web.cookies import console_cookie_name, read_session_token
from namoid.web.csrf import csrf_token, csrf_valid
from namoid.web.responses import page, problem, request_pairs

CurrentOrg = Annotated[Organization, Depends(current_org)]
#: What sensitive actions (export, delete, password, contacts) ask by default: a sign-in
#: within the last five minutes.
DEFAULT_MAX_AGE = 300
#: The console paths a sign-in may return to: the org's ``/account`` pages, an optional
#: simple query. Nothing else (no other origin, no ``//``, no backslash).
_RETURN = r"/account(?:/[A-Za-z0-9_-]+)*(?:\?[A-Za-z0-9_=&.%-]{0,256})?"


class Interrupted(Exception):
    """A console request answered before its route ran: a redirect or a refusal."""

    def __init__(self, response: Response) -> None:
        super().__init__("console request interrupted")
        self.response = response


async def interrupted(request: Request, exc: Exception) -> Response:
    """The app's handler for ``Interrupted``."""
    if not isinstance(exc, Interrupted):
        raise exc
    return exc.response


@dataclass(frozen=True, slots=True)
class Console:
    """A signed-in console request: the org, the user, the browser session and its form."""

    org: Organization
    user: User
    browser: BrowserSession
    form: Mapping[str, str] = field(default_factory=dict)

    @property
    def auth_time(self) -> datetime:
        """When the user last proved who they are in this browser session."""
        if self.browser.auth_time is None:  # a signed-in session always has one
            raise ValueError("the browser session is not signed in")
        return self.browser.auth_time

    @property
    def csrf_token(self) -> str:
        return csrf_token(self.browser)

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor("user", str(self.user.id))

    def url(self, path: str = "") -> str:
        """The console URL ``path`` (``"/sessions"``) of this org."""
        return console_url(self.org, path)

    def is_fresh(self, max_age_seconds: int, now: datetime) -> bool:
        return (now - self.auth_time).total_seconds() <= max_age_seconds


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def console_url(org: Organization, path: str = "") -> str:
    return f"/o/{org.slug}/account{path}"


def safe_return(org: Organization, value: str | None) -> str:
    """``value`` if it is one of this org's console paths, else the console's overview."""
    if value is not None and re.fullmatch(re.escape(f"/o/{org.slug}") + _RETURN, value):
        return value
    return console_url(org)


def sign_in_url(org: Organization, return_to: str, max_age: int | None = None) -> str:
    """The console sign-in, coming back to ``return_to``; with ``max_age`` a step-up."""
    query = {"next": safe_return(org, return_to)}
    if max_age is not None:
        query["max_age"] = str(max_age)
    return console_url(org, "/signin?" + urlencode(query))


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _redirect(location: str) -> Interrupted:
    return Interrupted(RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"}))


def _not_signed_in(request: Request) -> Response:
    return problem(
        request, 401, "Sign in first",
        "Your account session has ended, so nothing was changed. Open your account page again to sign in.",
    )  # fmt: skip


async def console_session(request: Request, org: CurrentOrg) -> Console:
    """Signed in to the console, or interrupted: GET → sign-in and back; else refused (401)."""
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        raise Interrupted(refused)
    services = _services(request)
    now = utcnow()
    async with services.db.tenant(org.id) as session:
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        user = await sessions.signed_in(session, org.id, browser)
    cookie = request.cookies.get(console_cookie_name(org.slug))
    if user is not None and console_cookies.verify(
        services.keyring.pepper, cookie, org.id, user.browser.sid, int(now.timestamp()), org.session_ttl
    ):
        return Console(org, user.user, user.browser)
    if request.method in ("GET", "HEAD"):
        raise _redirect(sign_in_url(org, _here(request)))
    raise Interrupted(await limits.refuse(request, org, _not_signed_in(request)))


async def console_user(request: Request, console: Annotated[Console, Depends(console_session)]) -> Console:
    """``console_session``; on a POST also the urlencoded form, its CSRF token checked."""
    if request.method in ("GET", "HEAD"):
        return console
    fields = dict(await request_pairs(request))
    if not csrf_valid(console.browser, fields.get("csrf_token", "")):
        async with _services(request).db.tenant(console.org.id) as session:
            form_name = request.url.path.removeprefix(console_url(console.org)) or "/"
            form = "account" + form_name
            refused = await limits.refuse_form(session, request, console.org, console.browser, form)
        raise Interrupted(refused)
    return Console(console.org, console.user, console.browser, fields)


ConsoleSession = Annotated[Console, Depends(console_session)]
ConsoleUser = Annotated[Console, Depends(console_user)]


async def _step_up_refused(request: Request, console: Console, max_age: int, return_to: str) -> Response:
    async with _services(request).db.tenant(console.org.id) as session:
        await audit.record(
            session,
            console.org.id,
            actor=console.actor,
            action="account.step_up_required",
            target_type="form",
            target_id=request.url.path.removeprefix(console_url(console.org)) or "/",
            outcome="denied",
            detail={"max_age": max_age},
        )
    context = {"step_up_url": sign_in_url(console.org, return_to, max_age)}
    return console_page(request, console, "account_step_up.html", context, status_code=403)


def require_fresh_auth(
    max_age_seconds: int = DEFAULT_MAX_AGE, return_to: str | None = None
) -> Callable[..., Awaitable[Console]]:
    """A dependency: ``console_user``, authenticated within ``max_age_seconds``.

    A stale GET is sent through ``/authorize`` with ``max_age`` (OIDC Core §3.1.2.1) and comes
    back to the page; a stale POST is refused and changes nothing; its page links to that
    step-up, returning to the console page ``return_to`` (a path under ``/account``, such as
    ``"/profile"``; by default the POST's own path, which should then show the form on GET).
    """

    async def fresh(request: Request, console: ConsoleUser) -> Console:
        if console.is_fresh(max_age_seconds, utcnow()):
            return console
        if request.method in ("GET", "HEAD"):
            raise _redirect(sign_in_url(console.org, _here(request), max_age_seconds))
        back = console.url(return_to) if return_to is not None else request.url.path
        raise Interrupted(await _step_up_refused(request, console, max_age_seconds, back))

    return fresh


def console_page(
    request: Request,
    console: Console,
    template: str,
    context: Mapping[str, object],
    status_code: int = 200,
    form_targets: Iterable[str] = (),
) -> Response:
    """Render a console page (a template extending ``account_base.html``): never cached.

    ``form_targets``: origins a form's answer may redirect to (CSP form-action; the site's
    own origin is always allowed)."""
    from namoid.web.account import NAV  # the package assembles the nav from its sections

    base = {
        "org_name": console.org.name,
        "account_url": console.url(),
        "nav": [(label, console.url(path)) for label, path in NAV],
        "user": console.user,
        "csrf_token": console.csrf_token,
        "logout_action": f"/o/{console.org.slug}/logout",
    }
    return page(request, template, base | dict(context), status_code=status_code, form_targets=form_targets)
