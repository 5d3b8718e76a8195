"""``/healthz`` (the process is alive) and ``/readyz`` (its database and Redis answer).

While the rate limiter counts in process memory because Redis failed, ``/readyz`` adds
``"ratelimit": "degraded"`` (once a retry is due it pings Redis, so a recovery shows at once).
That alone does not make the node unready: it still limits (per node), and failing every node
that shares the broken Redis would turn a Redis outage into a full outage. A Redis that does
not answer the ping is still ``unavailable`` (503).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from namoid.services import Services

router = APIRouter()
log = logging.getLogger(__name__)
CHECK_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    checks = {"database": await _check(services.db.ping())}
    if services.redis is not None:
        checks["redis"] = await _check(services.ping_redis())
    ready = all(value == "ok" for value in checks.values())
    if await services.limiter.recheck() == "degraded":
        checks["ratelimit"] = "degraded"
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT)
    except Exception as exc:  # any failure means "not ready", never a 500
        log.warning("readiness check failed: %s", type(exc).__name__)
        return "unavailable"
    return "ok"
