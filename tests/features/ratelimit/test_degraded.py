"""Redis down in the running app: still limited, /readyz says degraded, audited once."""

from __future__ import annotations

import httpx

from namoid.services import Services
from namoid.storage.models import Organization
from tests.features.ratelimit.conftest import UseLimits, audit_count
from tests.unit.ratelimit.test_limiter import closed_port_url


async def test_redis_down_still_limits_and_is_reported(
    http: httpx.AsyncClient, services: Services, org: Organization, use_limits: UseLimits
) -> None:
    before = await audit_count(services, None, "ratelimit.degraded")
    await use_limits(
        {"token.client": "2/minute"},
        redis_url=closed_port_url(),
        on_degraded=services.record_degraded_limiter,
    )
    url = f"/o/{org.slug}/token"
    statuses = [
        (await http.post(url, data={"grant_type": "client_credentials", "client_id": "c"})).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 429, 429]
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "ratelimit": "degraded"}}
    assert await audit_count(services, None, "ratelimit.degraded") == before + 1  # once, not per request


async def test_readyz_omits_a_healthy_limiter(http: httpx.AsyncClient) -> None:
    assert (await http.get("/readyz")).json()["checks"] == {"database": "ok"}
