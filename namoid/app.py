"""The ASGI applications: ``create_public_app()`` (routers, middleware, lifespan)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp

from namoid import nodecache
from namoid.health import router as health_router
from namoid.metrics import RequestMetricsMiddleware
from namoid.oauth import discovery, endpoints
from namoid.services import Services
from namoid.web import (
    account,
    codes,
    consent_api,
    demo,
    interaction,
    kyc_api,
    mailbox,
    pages,
    privacy,
    providers,
    sign_in_link,
)
from namoid.web.account import console_auth, kyc
from namoid.web.middleware import BodySizeLimitMiddleware, RequestContextMiddleware, SecurityHeadersMiddleware
from namoid.web.templates import error_page
from namoid.worker import in_background

log = logging.getLogger(__name__)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else "internal error"
    if _wants_html(request):
        return error_page(request, status, "Not found" if status == 404 else "Error", str(detail))
    return JSONResponse(
        {"error": "not_found" if status == 404 else "invalid_request", "error_description": str(detail)},
        status_code=status,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"error": "invalid_request", "error_description": "malformed request"}, status_code=400
    )


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up mid-body: nobody reads the answer, and it is not a server error."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if _wants_html(request):
        return error_page(request, 500, "Something went wrong", "The error was logged; please try again.")
    return JSONResponse({"error": "server_error"}, status_code=500)


def create_public_app(services: Services) -> ASGIApp:
    """The public HTTPS app: protocol endpoints, pages, health.

    The request context and security headers wrap the whole app, outside Starlette's
    error middleware, so even a 500 from ``_server_error`` carries the headers and the
    request id.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not services.settings.is_dev:
            await services.db.assert_role_cannot_bypass_rls()
        # Embedded mode runs the background jobs here; production runs `namoid worker`.
        jobs = in_background(services) if services.settings.runs_worker_in_server else nullcontext()
        listened = services.settings.resolved_database_url if services.db.is_postgres else None
        async with jobs, nodecache.listening(listened, services.caches):
            yield
        await services.close()

    app = FastAPI(
        title="NamoID",
        lifespan=lifespan,
        # Starlette builds a slash redirect's URL from the Host header, which the client
        # chooses; our URLs are exact (and come from NAMOID_BASE_URL), so there are none.
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.services = services
    app.include_router(health_router)
    app.include_router(pages.router)
    app.include_router(discovery.metadata_router)
    app.include_router(demo.router)
    app.include_router(mailbox.router)
    protocol = (discovery.router, endpoints.router, interaction.router)
    routers = (
        codes.router,
        privacy.router,
        providers.router,
        account.router,
        consent_api.router,
        kyc_api.router,
        sign_in_link.router,
    )
    for router in (*protocol, *routers):
        app.include_router(router, prefix="/o/{org}")
    app.mount("/static", pages.static_app, name="static")
    app.add_exception_handler(console_auth.Interrupted, console_auth.interrupted)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _server_error)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=services.settings.max_body_bytes,
        path_caps=[(kyc.UPLOAD_PATHS, services.settings.kyc_max_upload_bytes)],
    )
    return RequestMetricsMiddleware(
        RequestContextMiddleware(SecurityHeadersMiddleware(app), services.settings.trusted_proxies), "public"
    )
