"""Disconnecting: tokens revoked upstream (RFC 7009), then destroyed; the consent gets its withdrawal."""

from __future__ import annotations

from sqlalchemy import func, select

from namoid import audit
from namoid.privacy import consent_ledger
from namoid.providers import access
from namoid.providers.upstream import client_for
from namoid.storage.models import AuditEntry, ProviderConnection, ProviderToken, UpstreamProvider
from tests.features.authorize.conftest import Flow
from tests.features.providers.test_signin_flow import _connect
from tests.hostile_upstream import Upstream

ADMIN = audit.Actor("admin", "test")


async def _disconnect(flow: Flow, provider: UpstreamProvider) -> bool:
    services = flow.services
    return await access.disconnect(
        services.db,
        services.keyring,
        client_for(services.settings),
        provider,
        flow.user.id,
        by="user",
        actor=ADMIN,
    )


async def _left(flow: Flow) -> tuple[int, int]:
    async with flow.services.db.tenant(flow.org.id) as session:
        links = await session.scalar(select(func.count()).select_from(ProviderConnection))
        tokens = await session.scalar(select(func.count()).select_from(ProviderToken))
    return int(links or 0), int(tokens or 0)


async def _actions(flow: Flow) -> list[str]:
    async with flow.services.db.tenant(flow.org.id) as session:
        return list(await session.scalars(select(AuditEntry.action).where(AuditEntry.org_id == flow.org.id)))


async def test_disconnect_revokes_upstream_destroys_and_withdraws(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    assert (await _connect(flow, upstream)).status_code == 200
    assert await _disconnect(flow, upstream_provider)
    revocations = [body for _, path, _, body in upstream.requests if path == "/revoke"]
    assert len(revocations) == 1 and "token_type_hint=access_token" in revocations[0]
    assert f"token={upstream.access_token}" in revocations[0]
    assert await _left(flow) == (0, 0)
    records = await consent_ledger.list_records(flow.services.db, flow.org.id, user_id=flow.user.id)
    assert [(r.event, r.withdrawn_by) for r in records] == [("granted", None), ("withdrawn", "user")]
    assert records[0].consent_id == records[1].consent_id
    assert {"provider.disconnected", "provider_token.revoked_upstream"} <= set(await _actions(flow))
    assert not await _disconnect(flow, upstream_provider)  # nothing left to end


async def test_an_upstream_that_cannot_revoke_does_not_keep_the_tokens_alive(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    assert (await _connect(flow, upstream)).status_code == 200
    upstream.behaviour = "oversized"
    assert await _disconnect(flow, upstream_provider)
    assert await _left(flow) == (0, 0)
    assert "provider_token.not_revoked_upstream" in await _actions(flow)
