"""Rate-limit feature tests: the real app with chosen limits, and clients from chosen IPs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from sqlalchemy import func, select

from namoid.app import create_public_app
from namoid.ratelimit.limiter import Limiter
from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization, SecurityEvent
from tests.features.authorize.conftest import Flow, pkce_pair
from tests.features.conftest import MakeClient, MakeUser
from tests.unit.ratelimit.test_limiter import require_redis

UseLimits = Callable[..., Awaitable[Limiter]]
ClientAt = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def use_limits(services: Services) -> UseLimits:
    """Swap the app's limiter for one with these policy overrides (and any other Limiter field)."""

    async def use(overrides: dict[str, str] | None = None, **fields: object) -> Limiter:
        await services.limiter.close()
        services.limiter = Limiter(overrides=overrides or {}, **fields)  # type: ignore[arg-type]
        return services.limiter

    return use


@pytest.fixture(params=["memory", "redis"])
def limiter_storage(request: pytest.FixtureRequest) -> dict[str, str | None]:
    """``use_limits`` fields for an in-process limiter, or one on the test Redis (own key prefix)."""
    if request.param == "memory":
        return {"redis_url": None}
    return {"redis_url": require_redis(), "key_prefix": f"test-{uuid.uuid4().hex}"}


@pytest.fixture
def client_at(services: Services) -> ClientAt:
    """``async with client_at("198.51.100.4") as http:`` — the real app, seen from that IP."""
    app = create_public_app(services)

    @asynccontextmanager
    async def open_client(ip: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(ip, 50000))
        async with httpx.AsyncClient(transport=transport, base_url=services.settings.base_url) as client:
            yield client

    return open_client


@pytest.fixture
async def flow(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
) -> Flow:
    rp = await make_client(
        redirect_uris=["https://rp.example/callback"], scopes=["openid", "profile", "email"]
    )
    verifier, challenge = pkce_pair()
    return Flow(http, services, org, rp, await make_user(), verifier, challenge)


def figure(text: str) -> None:
    """A simulation's figure, printed (run with ``-s``) on a line of its own."""
    print(f"\nSIMULATION {text}")


def flow_at(flow: Flow, http: httpx.AsyncClient) -> Flow:
    """The same relying party and user, driven from another browser (``http``)."""
    return Flow(http, flow.services, flow.org, flow.rp, flow.user, flow.verifier, flow.challenge)


async def audit_count(services: Services, org: Organization | None, action: str) -> int:
    if org is None:
        async with services.db.system() as session:
            query = select(func.count()).where(AuditEntry.org_id.is_(None), AuditEntry.action == action)
            return int(await session.scalar(query) or 0)
    async with services.db.tenant(org.id) as session:
        query = select(func.count()).where(AuditEntry.org_id == org.id, AuditEntry.action == action)
        return int(await session.scalar(query) or 0)


async def security_events(services: Services, org: Organization | None, name: str) -> Sequence[SecurityEvent]:
    """The org's (or, for None, the system's) security events called ``name``, oldest first."""
    org_match = SecurityEvent.org_id.is_(None) if org is None else SecurityEvent.org_id == org.id
    query = (
        select(SecurityEvent).where(org_match, SecurityEvent.name == name).order_by(SecurityEvent.occurred_at)
    )
    session_scope = services.db.system() if org is None else services.db.tenant(org.id)
    async with session_scope as session:
        return (await session.scalars(query)).all()
