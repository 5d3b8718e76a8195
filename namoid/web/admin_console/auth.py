"""Who is signed in to the admin console: the FastAPI dependencies every console page uses.

The console lives on the admin origin, which cannot read the public origin's session cookie.
Its own cookie (``__Host-namoid-admin_{slug}``) is sealed under the keyring and names the
browser session (``sid``) and user the console's sign-in (``admin_console.sign_in``) saw in the
ID token; it is valid only while that very browser session is live and its user active, so
whatever ends the NamoID session (sign-out, a disabled user, a new sign-in) ends the console
session too. What the admin may do is what their roles carry *now* (``admin.scopes``): an
``org_admin`` everything, an ``auditor`` the ``:read`` pages only; anyone else gets a 403 page.

- ``Console`` (``Depends(requires(scope))``): the signed-in admin holding ``scope``. A GET
  without a console session goes to the sign-in and comes back; any other method is refused
  (401). A missing scope is a 403 page, audited as ``admin.access_denied``. On a POST the
  urlencoded form is parsed and its ``csrf_token`` checked (``web.csrf``; 403 and
  ``csrf.rejected`` otherwise): the fields are in ``console.form``.

Every console request counts against ``admin.ip`` first.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from starlette.responses import RedirectResponse, Response

from namoid import audit
from namoid.accounts import roles, sessions
from namoid.admin.access import Admin, record_denial
from namoid.admin.scopes import role_scopes
from namoid.oauth.console_client import ADMIN
from namoid.services import Services
from namoid.storage.models import BrowserSession, Organization, User, utcnow
from namoid.tenancy.resolve import current_org
from namoid.web import console_sign_in, limits
from namoid.web.account.console_auth import Interrupted
from namoid.web.cookies import admin_console_cookie_name
from namoid.web.csrf import ADMIN_PURPOSE, csrf_token, csrf_valid
from namoid.web.responses import page, problem, request_pairs

CurrentOrg = Annotated[Organization, Depends(current_org)]
#: Binds a console cookie's content to its purpose (and, with the org, to its org).
COOKIE_PURPOSE = b"namoid/admin-console-session/v1\n"
#: The console paths a sign-in may return to: this org's console pages, an optional simple query.
_RETURN = r"(?:/[A-Za-z0-9_-]+)*(?:\?[A-Za-z0-9_=&.%:+-]{0,256})?"


def console_url(org: Organization, path: str = "") -> str:
    return f"/console/o/{org.slug}{path}"


def safe_return(org: Organization, value: str | None) -> str:
    """``value`` if it is one of this org's console paths, else the dashboard."""
    if value is not None and re.fullmatch(re.escape(console_url(org)) + _RETURN, value):
        return value
    return console_url(org)


@dataclass(frozen=True, slots=True)
class Console:
    """A signed-in admin console request: the admin (org, scopes, actor), their user, the
    browser session and the POSTed form."""

    admin: Admin
    user: User
    browser: BrowserSession
    form: Mapping[str, str] = field(default_factory=dict)

    @property
    def org(self) -> Organization:
        return self.admin.org

    @property
    def actor(self) -> audit.Actor:
        return self.admin.actor

    def may(self, scope: str) -> bool:
        return scope in self.admin.scopes

    def url(self, path: str = "") -> str:
        return console_url(self.org, path)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def session_cookie(services: Services, org: Organization, sid: str, user_id: str, now: int) -> str:
    """The console's session cookie for browser session ``sid`` of ``user_id``, issued at ``now``."""
    return console_sign_in.seal(services, COOKIE_PURPOSE, org, {"sid": sid, "user": user_id, "iat": now})


async def signed_in_admin(
    services: Services, org: Organization, sid: str, subject: str
) -> tuple[BrowserSession, User, frozenset[str]] | None:
    """The live browser session ``sid`` of active user ``subject``, and the admin scopes their
    roles carry (possibly none); None if the session or user is gone."""
    async with services.db.tenant(org.id) as session:
        browser = await sessions.find_by_sid(session, org.id, sid, utcnow())
        user = await sessions.signed_in(session, org.id, browser)
        if user is None or str(user.user.id) != subject:
            return None
        held = await roles.of_user(session, org.id, user.user.id)
    return user.browser, user.user, role_scopes(held, platform=org.platform)


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def sign_in_url(org: Organization, return_to: str) -> str:
    return console_url(org, "/signin?" + urlencode({"next": safe_return(org, return_to)}))


def not_an_admin(request: Request, org: Organization) -> Response:
    return problem(
        request, 403, "Not an administrator",
        f"Your account has no administrative role in {org.name}, so the admin console is closed "
        "to you. Ask an administrator of your organization for the role org_admin or auditor.",
    )  # fmt: skip


async def console_session(request: Request, org: CurrentOrg) -> Console:
    """Signed in to the admin console, or interrupted: GET → sign-in and back; else refused (401)."""
    refused = await limits.ceiling(request, org, "admin.ip")
    if refused is not None:
        raise Interrupted(refused)
    services = services_of(request)
    now = int(utcnow().timestamp())
    found: dict[str, Any] | None = console_sign_in.unseal(
        services, COOKIE_PURPOSE, org, request.cookies.get(admin_console_cookie_name(org.slug))
    )
    signed = None
    if (
        found is not None
        and isinstance(found.get("iat"), int)
        and now - org.session_ttl < found["iat"] <= now
    ):
        signed = await signed_in_admin(services, org, str(found.get("sid")), str(found.get("user")))
    if signed is None:
        if request.method in ("GET", "HEAD"):
            location = sign_in_url(org, _here(request))
            raise Interrupted(
                RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})
            )
        answer = problem(
            request, 401, "Sign in first", "Your console session has ended, so nothing was changed."
        )
        raise Interrupted(await limits.refuse(request, org, answer))
    browser, user, scopes = signed
    if not scopes:
        raise Interrupted(not_an_admin(request, org))
    return Console(Admin(org, scopes, ADMIN.client_id, user.id), user, browser)


def requires(scope: str | None) -> Callable[..., Awaitable[Console]]:
    """A dependency: the signed-in admin holding ``scope`` (None: any admin; else a 403 page,
    audited); on a POST also the urlencoded form, its CSRF token checked."""

    async def dependency(request: Request, console: Annotated[Console, Depends(console_session)]) -> Console:
        services = services_of(request)
        if scope is not None and not console.may(scope):
            await record_denial(services, console.admin, scope, request)
            message = f"Your role does not allow this ({scope}). Nothing was changed."
            raise Interrupted(problem(request, 403, "Not allowed", message))
        if request.method in ("GET", "HEAD"):
            return console
        fields = dict(await request_pairs(request))
        if not csrf_valid(console.browser, fields.get("csrf_token", ""), ADMIN_PURPOSE):
            form = "admin-console" + (request.url.path.removeprefix(console.url()) or "/")
            async with services.db.tenant(console.org.id) as session:
                refused = await limits.refuse_form(session, request, console.org, console.browser, form)
            raise Interrupted(refused)
        return Console(console.admin, console.user, console.browser, fields)

    return dependency


def console_page(
    request: Request, console: Console, template: str, context: Mapping[str, object], status_code: int = 200
) -> Response:
    """Render a console page (a template extending ``admin_base.html``): never cached."""
    from namoid.web.admin_console import NAV  # the package assembles the nav from its sections

    base = {
        "org_name": console.org.name,
        "console_url": console.url(),
        "nav": [(label, console.url(path)) for label, path, scope in NAV if console.may(scope)],
        "user": console.user,
        "csrf_token": csrf_token(console.browser, ADMIN_PURPOSE),
        "signout_action": console.url("/signout"),
        "may": console.may,
    }
    return page(request, template, base | dict(context), status_code=status_code)


def done(console: Console, path: str, outcome: str) -> Response:
    """After a POST: back to the page ``path``, which says what happened (Post/Redirect/Get);
    ``outcome`` is a key of that page's notices, never text from the query."""
    location = console.url(path) + "?" + urlencode({"done": outcome})
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


def notice(request: Request, notices: Mapping[str, str]) -> str | None:
    """The notice of the outcome ``done`` redirected with, if it is one of ``notices``."""
    return notices.get(request.query_params.get("done", ""))
