"""The process's Prometheus metrics (issue 16): every definition lives here; the places that
count call one function or one ``.inc()`` each.

Requests are labelled by route *template* (``/o/{org}/token``), never by raw path, and by a
method from a fixed set, so no id or slug can grow the label space. With
``PROMETHEUS_MULTIPROC_DIR`` set (read by prometheus_client itself, before this module is
imported), values live in that directory's memory-mapped files and a scrape in any process
sums every process's (``namoid.admin.metrics``).

Values read from the database (outbox backlog, audit sealing lag) and the pool's capacity are
not kept here: the scrape computes them (``namoid.admin.metrics``).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Label value of a request that matched no route (a 404 from the router).
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "namoid_http_requests",
    "HTTP requests answered, by app (public/admin), method, route template and status.",
    ("app", "method", "route", "status"),
)
HTTP_DURATION = Histogram(
    "namoid_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by app, method and route template.",
    ("app", "method", "route"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TOKENS_ISSUED = Counter(
    "namoid_tokens_issued", "Token responses issued by the token endpoint, by grant type.", ("grant_type",)
)
SIGN_INS = Counter(
    "namoid_sign_ins",
    "Sign-in attempts by outcome (succeeded, failed, locked) and method (RFC 8176 amr values).",
    ("outcome", "method"),
)
RATE_LIMIT_REFUSALS = Counter(
    "namoid_ratelimit_refusals", "Requests a rate-limit policy refused, by policy.", ("policy",)
)
DB_POOL_IN_USE = Gauge(
    "namoid_db_pool_connections_in_use",
    "Database connections checked out of the pool now (summed over live processes).",
    multiprocess_mode="livesum",
)


def _route_template(scope: Scope) -> str:
    """The matched route's full path template (FastAPI's effective route keeps the prefixes of
    included routers; a plain Starlette route or mount has its own), else ``UNMATCHED``."""
    effective = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(effective, "path_format", None) or getattr(scope.get("route"), "path_format", None)
    return template if isinstance(template, str) else UNMATCHED


class RequestMetricsMiddleware:
    """Counts every HTTP request of ``app_name`` and observes its latency (outermost middleware)."""

    def __init__(self, app: ASGIApp, app_name: str) -> None:
        self.app, self.app_name = app, app_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = _route_template(scope)
            HTTP_REQUESTS.labels(self.app_name, method, route, str(status)).inc()
            HTTP_DURATION.labels(self.app_name, method, route).observe(time.perf_counter() - started)


def watch_pool(engine: AsyncEngine) -> None:
    """Keep ``DB_POOL_IN_USE`` current from the pool's checkout and checkin events."""

    def checked_out(*_: Any) -> None:
        DB_POOL_IN_USE.inc()

    def checked_in(*_: Any) -> None:
        DB_POOL_IN_USE.dec()

    event.listen(engine.sync_engine, "checkout", checked_out)
    event.listen(engine.sync_engine, "checkin", checked_in)
