"""``create_admin_app()``: the admin API's own ASGI app, served on its own origin and port.

Never mounted on the public app (DESIGN.md §6); the same request context, security headers
and body cap wrap it. Every error is an RFC 9457 problem (``namoid.admin.problems``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp

from namoid.admin import (
    audit_log,
    clients,
    grievances,
    keys,
    metrics,
    org_views,
    orgs,
    problems,
    rate_limits,
    security_events,
    users,
    webhooks,
)
from namoid.metrics import RequestMetricsMiddleware
from namoid.services import Services
from namoid.web import admin_console
from namoid.web.middleware import BodySizeLimitMiddleware, RequestContextMiddleware, SecurityHeadersMiddleware

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
PREFIX = "/admin/v1"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
TITLE = "NamoID admin API"
DESCRIPTION = (
    "Manage one organization: its clients, users and audit log. Authenticate with an access token "
    "of your organization whose audience is this API (client_credentials with "
    "resource={admin base URL}/admin/v1 and admin scopes the operator granted the client). "
    "Every error is an RFC 9457 problem document."
)
_PROBLEM = {"content": {problems.MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": problems.TITLES[status], **_PROBLEM}
    for status in (400, 401, 403, 404, 409, 413, 422, 429)
}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once), with the problem-details schema every error uses."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=TITLE, version="1", openapi_version="3.1.0", description=DESCRIPTION, routes=app.routes
        )
        schema = problems.ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
        document.setdefault("components", {}).setdefault("schemas", {})["ProblemDetails"] = schema
        app.openapi_schema = document
    return app.openapi_schema


def admin_api(lifespan: Lifespan | None = None) -> FastAPI:
    """The routes and error handlers, without the services they run on."""
    app = FastAPI(
        title=TITLE,
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_PATH,
    )
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    api = APIRouter(prefix=PREFIX, responses=ERRORS)
    for router in (
        clients.router,
        users.router,
        audit_log.router,
        orgs.router,
        keys.router,
        webhooks.router,
        security_events.router,
        grievances.router,
        org_views.router,
        rate_limits.router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(metrics.router)
    admin_console.mount(app)
    for exception, handler in problems.HANDLERS:
        html = exception in admin_console.HANDLED
        app.add_exception_handler(exception, admin_console.html_errors(handler) if html else handler)
    return app


def published_document() -> str:
    """The OpenAPI document as checked in (``docs/admin-openapi.json``): stable JSON text."""
    return json.dumps(openapi_document(admin_api()), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def create_admin_app(services: Services) -> ASGIApp:
    """The admin API: ``/admin/v1/clients``, ``/users``, ``/audit``, ``/orgs``, ``/openapi.json``;
    ``/metrics`` (Prometheus, ``namoid.admin.metrics``); the admin console at ``/console/o/{slug}``
    (``namoid.web.admin_console``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not services.settings.is_dev:
            await services.db.assert_role_cannot_bypass_rls()
        yield

    app = admin_api(lifespan)
    app.state.services = services
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=services.settings.max_body_bytes, refuse=problems.problem_response
    )
    return RequestMetricsMiddleware(
        RequestContextMiddleware(SecurityHeadersMiddleware(app), services.settings.trusted_proxies), "admin"
    )
