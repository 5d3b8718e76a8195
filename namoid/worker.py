"""The background jobs (DESIGN.md §1): ``namoid worker`` runs them in a loop, ``--once`` one pass.

In embedded mode the server runs the same loop as a task. Every job is safe to run in
several workers at once: outbox rows are leased, sweeps are idempotent deletes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import anyio

from namoid import audit
from namoid.events.delivery import EventDelivery
from namoid.services import Services
from namoid.signing_rotation import prune_signing_keys
from namoid.storage.models import utcnow

log = logging.getLogger(__name__)
_SYSTEM = audit.Actor("system", "worker")

Job = Callable[["Worker", datetime], Awaitable[dict[str, Any]]]


class Worker:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.delivery = EventDelivery(services)

    async def close(self) -> None:
        await self.delivery.close()

    async def deliver_events(self, now: datetime) -> dict[str, Any]:
        report = await self.delivery.run()
        return {"delivered": report.delivered, "retried": report.retried, "failed": report.failed}

    async def prune_signing_keys(self, now: datetime) -> dict[str, Any]:
        removed = await prune_signing_keys(self.services.db, self.services.signing, _SYSTEM)
        return {"removed": len(removed)}

    async def run_once(self) -> dict[str, dict[str, Any]]:
        """One pass of every job; a failing job is logged and the others still run."""
        results: dict[str, dict[str, Any]] = {}
        for name, job in JOBS.items():
            try:
                results[name] = await job(self, utcnow())
            except Exception as exc:  # one broken job must not stop event delivery
                log.exception("background job %s failed", name)
                results[name] = {"error": type(exc).__name__}
        return results

    async def run_forever(self, interval: float) -> None:
        while True:
            await self.run_once()
            await anyio.sleep(interval)


JOBS: dict[str, Job] = {
    "deliver_events": Worker.deliver_events,
    "prune_signing_keys": Worker.prune_signing_keys,
}
