"""The admin console at ``{admin_base}/console/o/{slug}`` (issue 16): an org's administration,
server-rendered, on the admin app only (never the public one, DESIGN.md §6).

Admins sign in through their org's own issuer (``sign_in``); ``auth`` gives every page the
signed-in admin, their scopes (from their roles), CSRF checking and the page layout. Pages call
the same service functions as the admin API and the CLI; each change is audited there with the
admin as actor (``admin``, ``user:<id>``).

To add a section: one module here with an ``APIRouter`` named ``router`` whose routes take
``Depends(requires(scope))``, one template extending ``admin_base.html`` (no JavaScript; it
must work at 390 px), and one line in ``SECTIONS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from namoid.accounts.users import UserExists
from namoid.admin import scopes
from namoid.admin.problems import Problem
from namoid.web.account.console_auth import Interrupted, interrupted
from namoid.web.admin_console import audit_log, clients, dashboard, inbox, keys, sign_in, users, webhooks
from namoid.web.pages import static_app
from namoid.web.responses import problem

PREFIX = "/console/o/{org}"


@dataclass(frozen=True, slots=True)
class Section:
    router: APIRouter
    #: (label, path under the console, the scope that shows it) in the navigation, or None.
    nav: tuple[str, str, str] | None


SECTIONS: tuple[Section, ...] = (
    Section(sign_in.router, None),
    Section(dashboard.router, ("Dashboard", "", scopes.AUDIT_READ)),
    Section(clients.router, ("Clients", "/clients", scopes.CLIENTS_READ)),
    Section(users.router, ("Users", "/users", scopes.USERS_READ)),
    Section(keys.router, ("Signing keys", "/keys", scopes.CLIENTS_READ)),
    Section(webhooks.router, ("Webhooks", "/webhooks", scopes.AUDIT_READ)),
    Section(audit_log.router, ("Audit log", "/audit", scopes.AUDIT_READ)),
    Section(inbox.router, None),
)
NAV: tuple[tuple[str, str, str], ...] = tuple(section.nav for section in SECTIONS if section.nav is not None)

router = APIRouter()
for _section in SECTIONS:
    router.include_router(_section.router, prefix=PREFIX)

_TITLES = {404: "Not found", 409: "Already exists", 422: "The change was refused", 400: "Bad request"}


def _page_for(exc: Exception) -> tuple[int, str]:
    """The status and message of a refusal: the service layer's words, never a stack trace."""
    if isinstance(exc, Problem):
        return exc.status, exc.detail
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    if isinstance(exc, RequestValidationError):
        return 422, "Part of the address or form is not valid."
    if isinstance(exc, LookupError):
        return 404, str(exc) or "There is no such item in this organization."
    return (409 if isinstance(exc, UserExists) else 422), str(exc)


def html_errors(
    api_handler: Callable[[Request, Exception], Awaitable[Response]],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The admin app's handler for an exception: on console pages an HTML error page (nothing
    was changed: services validate before they write), elsewhere the API's problem document."""

    async def handler(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/console/"):
            return await api_handler(request, exc)
        status, message = _page_for(exc)
        slug = request.path_params.get("org")
        back = f" Go back to /console/o/{slug} and try again." if isinstance(slug, str) else ""
        return problem(request, status, _TITLES.get(status, "Error"), message.rstrip(".") + "." + back)

    return handler


#: The admin app's handlers ``html_errors`` wraps.
HANDLED: tuple[type[Exception], ...] = (
    Problem,
    HTTPException,
    RequestValidationError,
    LookupError,
    ValueError,
)


def mount(app: FastAPI) -> None:
    """Serve the console on the admin app: its pages, the stylesheet, and the sign-in interruptions
    (``console_auth.Interrupted``) answered as on the public app."""
    app.include_router(router)  # HTML, not in the OpenAPI document
    app.mount("/static", static_app, name="static")
    app.add_exception_handler(Interrupted, interrupted)
