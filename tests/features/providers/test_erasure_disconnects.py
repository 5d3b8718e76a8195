"""Deleting an account ends its provider connections: revoked upstream (RFC 7009), destroyed (issue 13)."""

from __future__ import annotations

from datetime import timedelta

from namoid import audit
from namoid.privacy import consent_ledger, erasure, purge
from namoid.storage.models import UpstreamProvider, utcnow
from tests.features.authorize.conftest import Flow
from tests.features.providers.test_disconnect import _actions, _left
from tests.features.providers.test_signin_flow import _connect
from tests.hostile_upstream import Upstream

ADMIN = audit.Actor("admin", "test")


async def test_deleting_revokes_upstream_then_the_purge_leaves_no_connection(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    assert (await _connect(flow, upstream)).status_code == 200
    await erasure.set_grace(flow.services.db, flow.org.slug, 0, ADMIN)
    deleted = await erasure.delete_account(flow.services, flow.org.id, flow.user.id, ADMIN)
    assert deleted.providers_disconnected == 1
    revocations = [body for _, path, _, body in upstream.requests if path == "/revoke"]
    assert len(revocations) == 1 and f"token={upstream.access_token}" in revocations[0]
    assert await _left(flow) == (0, 0)
    records = await consent_ledger.list_records(flow.services.db, flow.org.id, user_id=flow.user.id)
    assert [(r.event, r.withdrawn_by) for r in records] == [
        ("granted", None),
        ("withdrawn", "account_deleted"),
    ]
    assert "provider_token.revoked_upstream" in await _actions(flow)
    assert await purge.purge_org(flow.services, flow.org, utcnow() + timedelta(seconds=1)) == 1
    assert (
        len([body for _, path, _, body in upstream.requests if path == "/revoke"]) == 1
    )  # nothing left to end
