"""``GET /metrics`` on the admin port (issue 16): Prometheus text exposition of ``namoid.metrics``
and of what the scrape itself reads from the database.

Who may scrape (default: tokens only): an address in ``NAMOID_METRICS_ALLOW``; the bearer secret
``NAMOID_METRICS_TOKEN`` (compared in constant time); or an admin access token of the platform
org holding ``admin:metrics:read`` (the metrics count every org's traffic). Anything else gets
the admin API's 401 or 403 problem.

The database values (outbox backlog and its oldest row's age, audit sealing lag) are read at
scrape time, one short transaction per org, so requests never pay for them. With
``PROMETHEUS_MULTIPROC_DIR`` set, the counters of every process are summed from its files.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.admin import scopes
from namoid.admin.access import bearer, requires
from namoid.audit.sealing import chain_session
from namoid.crypto.secrets import constant_time_equals
from namoid.services import Services
from namoid.storage.models import utcnow
from namoid.storage.repos import audit_chain, event_outbox
from namoid.tenancy import organizations

PATH = "/metrics"
#: The outbox's kinds (``OutboxEntry.kind``): each gets a series, 0 when nothing waits.
OUTBOX_KINDS = ("webhook", "email", "sms")
router = APIRouter()
_scrapers = requires(scopes.METRICS_READ)


class _Families(Collector):
    """Metric families computed for one scrape."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def _age(now: datetime, oldest: datetime | None) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b < a) else a


@dataclass(slots=True)
class _Backlog:
    """What waits, summed over the orgs: outbox rows by kind, and unsealed audit entries."""

    pending: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTBOX_KINDS, 0))
    oldest_pending: dict[str, datetime | None] = field(default_factory=dict)
    unsealed: int = 0
    oldest_unsealed: datetime | None = None

    async def add_chain(self, session: AsyncSession, org_id: uuid.UUID | None) -> None:
        count, first = await audit_chain.unsealed_backlog(session, org_id)
        self.unsealed += count
        self.oldest_unsealed = _earliest(self.oldest_unsealed, first)

    async def add_outbox(self, session: AsyncSession, org_id: uuid.UUID) -> None:
        for kind, count, first in await event_outbox.backlog(session, org_id):
            self.pending[kind] = self.pending.get(kind, 0) + count
            self.oldest_pending[kind] = _earliest(self.oldest_pending.get(kind), first)

    def families(self, now: datetime) -> list[Metric]:
        backlog = GaugeMetricFamily(
            "namoid_outbox_pending",
            "Outbox rows (webhook SETs, emails, SMS) not delivered yet.",
            labels=["kind"],
        )
        age = GaugeMetricFamily(
            "namoid_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox row not delivered yet (0 when none waits).",
            labels=["kind"],
        )
        for kind, count in self.pending.items():
            backlog.add_metric([kind], count)
            age.add_metric([kind], _age(now, self.oldest_pending.get(kind)))
        unsealed = GaugeMetricFamily(
            "namoid_audit_unsealed_entries",
            "Audit entries not sealed into their chain yet.",
            value=self.unsealed,
        )
        lag = GaugeMetricFamily(
            "namoid_audit_sealing_lag_seconds",
            "Age of the oldest audit entry not sealed yet (0 when the sealer has caught up).",
            value=_age(now, self.oldest_unsealed),
        )
        return [backlog, age, unsealed, lag]


async def _backlog(services: Services) -> _Backlog:
    """One short transaction per org (RLS scopes every read to it), and one for the system chain."""
    found = _Backlog()
    async with chain_session(services.db, None) as session:
        await found.add_chain(session, None)
    for org in await organizations.list_all(services.db):
        async with services.db.tenant(org.id) as session:
            await found.add_outbox(session, org.id)
            await found.add_chain(session, org.id)
    return found


def _pool(services: Services) -> list[Metric]:
    size = getattr(services.db.engine.pool, "size", None)
    if size is None:  # a pool without a fixed size (SQLite's NullPool/StaticPool)
        return []
    return [
        GaugeMetricFamily(
            "namoid_db_pool_size", "Connections the scraped process's pool keeps (its configured size).",
            value=size(),
        )
    ]  # fmt: skip


def _registry(services: Services, families: Sequence[Metric]) -> CollectorRegistry:
    registry = CollectorRegistry()
    directory = services.settings.prometheus_multiproc_dir
    if directory is not None:
        MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    else:
        registry.register(REGISTRY)
    registry.register(_Families(families))
    return registry


def _allowed(address: str | None, allow: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in allow)


async def _authorize(request: Request, credentials: HTTPAuthorizationCredentials | None) -> None:
    """Pass an allowed address or the metrics secret; anything else must be an admin token with
    ``admin:metrics:read`` (the admin API's checks, limits and audit of a refusal)."""
    services: Services = request.app.state.services
    settings = services.settings
    if _allowed(request.scope["state"].get("client_ip"), settings.metrics_allow):
        return
    secret = settings.metrics_token
    if (
        credentials is not None
        and secret is not None
        and constant_time_equals(credentials.credentials, secret.get_secret_value())
    ):
        return
    await _scrapers(request, credentials)


@router.get(PATH, include_in_schema=False)
async def scrape(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Response:
    """The Prometheus text exposition format (prometheus_client's ``CONTENT_TYPE_LATEST``)."""
    await _authorize(request, credentials)
    services: Services = request.app.state.services
    families = [*(await _backlog(services)).families(utcnow()), *_pool(services)]
    body = generate_latest(_registry(services, families))
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
