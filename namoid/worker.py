"""The background jobs (DESIGN.md §1): ``namoid worker`` runs them in a loop, ``--once`` one pass.

In embedded mode the server runs the same loop as a task (``in_background``). Every job
is safe to run in several workers at once: outbox rows are leased, sweeps are
idempotent deletes, an account to purge is claimed by one conditional UPDATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from namoid import audit, sweeps
from namoid.audit import retention, sealing
from namoid.events.delivery import EventDelivery
from namoid.notify.delivery import MessageDelivery
from namoid.notify.wakeup import Listener
from namoid.privacy import export_jobs, purge
from namoid.services import Services
from namoid.signing_rotation import prune_signing_keys
from namoid.storage.models import utcnow
from namoid.tenancy import organizations

log = logging.getLogger(__name__)

#: Retention looks at every org's oldest entries; once an hour is plenty.
RETENTION_EVERY = timedelta(hours=1)

#: A job gets the pass's pinned clock, or None for the real one.
Job = Callable[["Worker", datetime | None], Awaitable[dict[str, Any]]]


class Worker:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.delivery = EventDelivery(services)
        self.messages = MessageDelivery(services)
        self.listener = (
            Listener(services.settings.resolved_database_url, services.wakeup)
            if services.db.is_postgres
            else None
        )
        self.stopping = asyncio.Event()
        self.retention_ran: datetime | None = None

    def stop(self) -> None:
        """End ``run_forever`` once the step in flight is done (nothing is cut off mid-transaction)."""
        self.stopping.set()
        self.delivery.stop()
        self.messages.stop()
        self.services.wakeup.interrupt()

    async def close(self) -> None:
        await self.delivery.close()
        if self.listener is not None:
            await self.listener.close()

    async def deliver_messages(self, now: datetime | None) -> dict[str, Any]:
        report = await self.messages.run(now)
        return {"delivered": report.delivered, "retried": report.retried, "failed": report.failed}

    async def deliver_events(self, now: datetime | None) -> dict[str, Any]:
        report = await self.delivery.run(now)
        return {"delivered": report.delivered, "retried": report.retried, "failed": report.failed}

    async def produce_exports(self, now: datetime | None) -> dict[str, Any]:
        """Produce the data exports users asked for (issue 13), org by org."""
        totals = {"produced": 0, "failed": 0}
        db, keyring = self.services.db, self.services.keyring
        for org in await organizations.list_all(db):
            report = await export_jobs.produce_pending(db, keyring, org, now or utcnow())
            totals = {key: totals[key] + report[key] for key in totals}
        return totals

    async def sweep_expired(self, now: datetime | None) -> dict[str, Any]:
        return await sweeps.sweep(self.services.db, now or utcnow())

    async def purge_deleted_accounts(self, now: datetime | None) -> dict[str, Any]:
        """Purge the accounts whose erasure grace has run out (namoid.privacy.purge)."""
        return await purge.purge_due(self.services, now or utcnow())

    async def prune_signing_keys(self, now: datetime | None) -> dict[str, Any]:
        removed = await prune_signing_keys(self.services.db, self.services.signing, audit.WORKER)
        return {"removed": len(removed)}

    async def seal_audit(self, now: datetime | None) -> dict[str, Any]:
        report = await sealing.seal_all(self.services)
        return {"sealed": report.sealed, "checkpoints": report.checkpoints}

    async def audit_retention(self, now: datetime | None) -> dict[str, Any]:
        """Remove entries past each org's retention, as the schema owner (the app role cannot)."""
        moment = now or utcnow()
        if self.retention_ran is not None and moment - self.retention_ran < RETENTION_EVERY:
            return {"skipped": "ran within the hour"}
        try:
            pruned = await retention.prune_all(self.services.settings, self.services.db, moment)
        except ValueError as exc:
            return {"skipped": str(exc)}
        self.retention_ran = moment
        return {"removed": sum(result.removed for result in pruned), "orgs": len(pruned)}

    async def run_once(self, now: datetime | None = None) -> dict[str, dict[str, Any]]:
        """One pass of every job (``now`` pins the clock); a failing job is logged, the others run."""
        results: dict[str, dict[str, Any]] = {}
        for name, job in JOBS.items():
            if self.stopping.is_set():
                break
            try:
                results[name] = await job(self, now)
            except Exception as exc:  # one broken job must not stop event delivery
                log.exception("background job %s failed", name)
                results[name] = {"error": type(exc).__name__}
        return results

    async def run_forever(self, interval: float) -> None:
        """Pass after pass, ``interval`` seconds apart, until ``stop()``; messages in between at once."""
        while not self.stopping.is_set():
            if self.listener is not None:
                await self.listener.ensure()  # before the pass: nothing committed after it goes unheard
            await self.run_once()
            await self.idle(interval)

    async def idle(self, interval: float) -> None:
        """Wait ``interval`` seconds, sending each org's new messages the moment they are committed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + interval
        while not self.stopping.is_set() and (left := deadline - loop.time()) > 0:
            reconnected = self.listener is not None and await self.listener.ensure()
            orgs = None if reconnected else await self.services.wakeup.wait(left)
            if (reconnected or orgs) and not self.stopping.is_set():
                try:  # after a reconnection every org: commits in between woke nobody
                    await self.messages.run(org_ids=orgs)
                except Exception:  # the next full pass retries; the worker itself must go on
                    log.exception("message delivery on wake-up failed")


JOBS: dict[str, Job] = {
    "deliver_messages": Worker.deliver_messages,
    "deliver_events": Worker.deliver_events,
    "produce_exports": Worker.produce_exports,
    "sweep_expired": Worker.sweep_expired,
    "purge_deleted_accounts": Worker.purge_deleted_accounts,
    "prune_signing_keys": Worker.prune_signing_keys,
    # Sealing comes after the jobs that write audit entries, so a pass seals what it wrote.
    "seal_audit": Worker.seal_audit,
    "audit_retention": Worker.audit_retention,
}


@contextlib.asynccontextmanager
async def in_background(services: Services) -> AsyncIterator[None]:
    """Run the jobs as a task of the server (embedded mode) while the context is open.

    Leaving the context stops the worker and waits for the step in flight, at most one
    batch of deliveries; a process killed before that loses nothing either: the rows in
    flight stay leased until their lease runs out, then a later pass delivers them.
    """
    worker = Worker(services)
    task = asyncio.create_task(worker.run_forever(services.settings.worker_interval), name="namoid-worker")
    log.info("background jobs run in this process every %s s", services.settings.worker_interval)
    try:
        yield
    finally:
        worker.stop()
        await task
        await worker.close()
