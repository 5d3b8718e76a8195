"""``namoid worker [--once]``: the background jobs (event delivery, expiry sweeps, key pruning)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated, Any

import typer

from namoid.cli.runtime import emit, fail, run
from namoid.preflight import StartupRefused, check_production
from namoid.services import Services
from namoid.worker import Worker

log = logging.getLogger("namoid.worker")
#: ``--once`` exits with this when a job failed (the results still print), so cron notices.
EXIT_JOB_FAILED = 1
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _human(results: dict[str, dict[str, Any]]) -> str:
    return "\n".join(
        f"{job}: " + (", ".join(f"{key} {value}" for key, value in result.items()) or "nothing to do")
        for job, result in results.items()
    )


async def _until_signalled(worker: Worker, interval: float) -> None:
    """Run pass after pass until SIGTERM or SIGINT, which let the step in flight finish first.

    A second signal finds the default handler again and ends the process at once; the
    rows then in flight are redelivered when their lease runs out.
    """
    loop = asyncio.get_running_loop()

    def stop(signum: signal.Signals) -> None:
        log.info("%s received: the worker stops after the step in flight", signum.name)
        for handled in SIGNALS:
            loop.remove_signal_handler(handled)
        worker.stop()

    for signum in SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    await worker.run_forever(interval)


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run one pass of every job, print the results, exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output (with --once).")] = False,
) -> None:
    """Run the background jobs every NAMOID_WORKER_INTERVAL seconds until SIGTERM (or once, for cron)."""

    async def action(services: Services) -> None:
        settings = services.settings
        if not settings.is_dev:
            try:
                await check_production(services.db, services.keyring, redis=None)
            except StartupRefused as exc:
                fail(f"refusing to start: {exc}")
        jobs = Worker(services)
        try:
            if once:
                results = await jobs.run_once()
                emit(as_json, results, _human(results))
                if any("error" in result for result in results.values()):
                    raise typer.Exit(EXIT_JOB_FAILED)
                return
            log.info("worker started: a pass every %s s", settings.worker_interval)
            await _until_signalled(jobs, settings.worker_interval)
        finally:
            await jobs.close()

    run(action)
