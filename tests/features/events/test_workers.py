"""Several workers share the outbox safely; one pass of the worker runs every job."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from namoid import events, worker
from namoid.crypto.keyring import Keyring
from namoid.events import webhooks
from namoid.events.delivery import BATCH, EventDelivery
from namoid.outbound import OutboundPolicy
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.db import Database
from namoid.storage.models import Organization, utcnow
from namoid.storage.repos import event_outbox
from tests.conftest import ISOLATED, POSTGRES_ONLY
from tests.features.conftest import ADMIN
from tests.features.events.conftest import PUBLIC_HOOK, outbox, raise_test_event
from tests.receiver import receiver

ROWS = 4 * BATCH


def _own_services(settings: Settings, keyring_file: Path) -> Services:
    """Another process's view: its own engine (and so its own connections), a patient receiver timeout."""
    patient = Settings(**(settings.model_dump() | {"webhook_timeout": 10.0}))
    return Services(
        settings=patient, db=Database(patient.resolved_database_url), keyring=Keyring.load(keyring_file)
    )


@POSTGRES_ONLY
async def test_two_workers_deliver_each_row_exactly_once(
    services: Services,
    settings: Settings,
    keyring_file: Path,
    org: Organization,
    policy: OutboundPolicy,
    receiver_tls: tuple[Path, Path],
) -> None:
    first, second = _own_services(settings, keyring_file), _own_services(settings, keyring_file)
    deliveries = [EventDelivery(first), EventDelivery(second)]
    with receiver(cert=receiver_tls) as rx:
        await webhooks.add(services.db, org.id, rx.url, policy=policy, actor=ADMIN)
        async with services.db.tenant(org.id) as session:
            raised = [
                await events.raise_event(
                    session, org.id, "session.revoked", actor=ADMIN, subject=events.opaque_subject(f"s{i}")
                )
                for i in range(ROWS)
            ]
        try:
            reports = await asyncio.gather(*(d.run(orgs=[org]) for d in deliveries))
        finally:
            for closing in (*deliveries, first, second):
                await closing.close()
    assert sorted(rx.jtis()) == sorted(event.id.hex for event in raised)  # each exactly once
    assert [r.retried + r.failed for r in reports] == [0, 0]
    assert sum(r.delivered for r in reports) == ROWS
    assert all(r.delivered for r in reports), reports  # both took part


@ISOLATED
async def test_one_pass_runs_every_job_and_a_failing_job_stops_no_other(
    services: Services,
    org: Organization,
    monkeypatch: pytest.MonkeyPatch,
    policy: OutboundPolicy,
    receiver_tls: tuple[Path, Path],
) -> None:
    async def broken(self: worker.Worker, now: object) -> dict[str, object]:
        raise RuntimeError("sweep failed")

    monkeypatch.setitem(worker.JOBS, "sweep_expired", broken)
    jobs = worker.Worker(services)
    with receiver(cert=receiver_tls) as rx:
        await webhooks.add(services.db, org.id, rx.url, policy=policy, actor=ADMIN)
        event = await raise_test_event(services, org)
        try:
            results = await jobs.run_once()
        finally:
            await jobs.close()
    assert list(results) == list(worker.JOBS)
    assert results["deliver_events"] == {"delivered": 1, "retried": 0, "failed": 0}
    assert results["sweep_expired"] == {"error": "RuntimeError"}
    assert results["prune_signing_keys"] == {"removed": 0}
    assert results["seal_audit"]["sealed"] > 0  # the org's entries, the event's among them
    assert "error" not in results["audit_retention"]
    assert rx.jtis() == [event.id.hex]


async def test_a_worker_whose_lease_ran_out_cannot_settle_the_row(
    services: Services, org: Organization, policy: OutboundPolicy
) -> None:
    await webhooks.add(services.db, org.id, PUBLIC_HOOK, policy=policy, actor=ADMIN)
    await raise_test_event(services, org)
    now = utcnow()
    async with services.db.tenant(org.id) as session:
        [stale] = await event_outbox.claim_due(session, org.id, now, now + timedelta(seconds=1), BATCH)
    later = now + timedelta(seconds=2)  # the first lease ran out: another worker claims the row
    async with services.db.tenant(org.id) as session:
        [current] = await event_outbox.claim_due(session, org.id, later, later + timedelta(minutes=1), BATCH)
    assert (stale.entry_id, stale.attempt, current.attempt) == (current.entry_id, 1, 2)

    async with services.db.tenant(org.id) as session:
        assert not await event_outbox.retry_later(session, org.id, stale.entry_id, 1, later, "late")
        assert not await event_outbox.mark_failed(session, org.id, stale.entry_id, 1, later, "late")
    [row] = await outbox(services, org)
    assert row.leased_until == later + timedelta(minutes=1) and row.failed_at is None
    async with services.db.tenant(org.id) as session:  # but a delivery counts, whichever attempt made it
        assert await event_outbox.mark_delivered(session, org.id, stale.entry_id, later)
        assert not await event_outbox.retry_later(session, org.id, current.entry_id, 2, later, "late")
    [row] = await outbox(services, org)
    assert row.delivered_at == later and row.leased_until is None and row.last_error is None
