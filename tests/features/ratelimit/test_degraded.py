"""Redis down in the running app: still limited, a security event, /readyz degraded, then recovery."""

from __future__ import annotations

import asyncio

import httpx

from namoid import events
from namoid.services import Services
from namoid.storage.models import Organization
from tests.e2e.test_server import free_port
from tests.features.ratelimit.conftest import UseLimits, audit_count, security_events
from tests.unit.ratelimit.test_limiter import closed_port_url, redis_server, redis_url_at

DEGRADED = "ratelimit.degraded"
CC = {"grant_type": "client_credentials", "client_id": "c"}


async def _token_statuses(http: httpx.AsyncClient, org: Organization, count: int) -> list[int]:
    return [(await http.post(f"/o/{org.slug}/token", data=CC)).status_code for _ in range(count)]


async def _readyz_checks(http: httpx.AsyncClient) -> dict[str, str]:
    ready = await http.get("/readyz")
    assert ready.status_code == 200  # degraded limiting is still ready: it limits, per node
    checks: dict[str, str] = ready.json()["checks"]
    return checks


async def test_redis_down_still_limits_and_is_reported(
    http: httpx.AsyncClient, services: Services, org: Organization, use_limits: UseLimits
) -> None:
    before = len(await security_events(services, None, DEGRADED))
    audited = await audit_count(services, None, DEGRADED)
    await use_limits(
        {"token.ip": "2/minute"},
        redis_url=closed_port_url(),
        on_degraded=services.record_degraded_limiter,
    )
    assert await _token_statuses(http, org, 4) == [401, 401, 429, 429]
    assert await _readyz_checks(http) == {"database": "ok", "ratelimit": "degraded"}
    found = await security_events(services, None, DEGRADED)
    assert len(found) == before + 1  # once, not once per request
    assert found[-1].subject == events.opaque_subject("namoid:ratelimit")
    assert found[-1].payload["reason"] == "ConnectionError"
    assert await audit_count(services, None, DEGRADED) == audited + 1  # raise_event's own audit entry


async def test_redis_killed_mid_run_then_back(
    http: httpx.AsyncClient, services: Services, org: Organization, use_limits: UseLimits
) -> None:
    port = free_port()
    before = len(await security_events(services, None, DEGRADED))
    await use_limits(
        {"token.ip": "3/minute"},
        redis_url=redis_url_at(port),
        retry_seconds=0.3,
        on_degraded=services.record_degraded_limiter,
    )
    with redis_server(port):
        assert await _token_statuses(http, org, 2) == [401, 401]
        assert await _readyz_checks(http) == {"database": "ok"}
    # Redis is gone: the node counts in its own memory (which saw none of the two), never unlimited.
    assert await _token_statuses(http, org, 4) == [401, 401, 401, 429]
    assert await _readyz_checks(http) == {"database": "ok", "ratelimit": "degraded"}
    assert len(await security_events(services, None, DEGRADED)) == before + 1
    with redis_server(port):  # a fresh Redis on the same port: the node goes back to it by itself
        await asyncio.sleep(0.35)
        assert await _readyz_checks(http) == {"database": "ok"}
        assert await _token_statuses(http, org, 4) == [401, 401, 401, 429]
    assert len(await security_events(services, None, DEGRADED)) == before + 1


async def test_readyz_omits_a_healthy_limiter(http: httpx.AsyncClient) -> None:
    assert (await http.get("/readyz")).json()["checks"] == {"database": "ok"}
