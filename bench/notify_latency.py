"""Request → sender-call latency of an email/SMS (issue 11: aim p99 below 1 s with the worker running).

    .venv/bin/python bench/notify_latency.py [--messages 300] [--output FILE]

On a scratch PostgreSQL database (``bench/run.py``'s helpers, production mode), a separate
``namoid worker`` process runs with ``NAMOID_WORKER_INTERVAL=60``: only the PostgreSQL
``LISTEN/NOTIFY`` wake-up can make it send within a minute. This process plays the request:
it opens a tenant transaction, queues an SMS with ``namoid.notify.outbox.enqueue`` (encrypt,
insert, audit, ``pg_notify``) and commits. The clock starts before the transaction opens and
stops when the worker calls the sender: the ``dev`` sender stamps each message with the time
it was called (``received_at``), on the same machine's clock. Messages go one at a time
(each waits for the previous one to arrive), so the figure is the latency of one code, not
a queue. The first ``--warmup`` messages are not counted.
The report goes to ``bench/results/<date>-notify.md`` (or ``--output``) and is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from run import PG_ROLE, ROOT, _commit, _machine, _postgres_roles, deployment, postgres_database

from namoid import audit
from namoid.crypto.keyring import Keyring
from namoid.notify import outbox
from namoid.notify.dev import mailbox_dir
from namoid.notify.messages import SmsMessage
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.db import Database
from namoid.tenancy import organizations

BENCH_ACTOR = audit.Actor("system", "bench")


def _next_file(directory: Path, seen: set[str]) -> dict[str, object] | None:
    fresh = {p.name for p in directory.glob("*.json")} - seen if directory.is_dir() else set()
    if not fresh:
        return None
    name = min(fresh)
    seen.add(name)
    document: dict[str, object] = json.loads((directory / name).read_text())
    return document


async def _arrived(directory: Path, seen: set[str], within: float = 10.0) -> dict[str, object]:
    """The next new message file's content (polled; the figure comes from its own timestamp)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (document := await asyncio.to_thread(_next_file, directory, seen)) is not None:
            return document
        await asyncio.sleep(0.002)
    raise TimeoutError("no message arrived within 10 s: is the worker listening?")


async def measure(services: Services, slug: str, count: int, warmup: int) -> list[float]:
    org = await organizations.require(services.db, slug)
    directory = mailbox_dir(services.settings.data_dir)
    seen: set[str] = set()
    latencies = []
    for i in range(warmup + count):
        message = SmsMessage(to="+919876541234", text=f"{100000 + i} is your code", template="otp")
        started = datetime.now(UTC)
        async with services.db.tenant(org.id) as session:
            await outbox.enqueue(session, services.keyring, services.wakeup, org.id, message, BENCH_ACTOR)
        document = await _arrived(directory, seen)
        called = datetime.fromisoformat(str(document["received_at"]))
        if i >= warmup:
            latencies.append((called - started).total_seconds() * 1000)
        await asyncio.sleep(0.02)  # the worker is idle again, as between two users' requests
    return latencies


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(latencies: list[float], args: argparse.Namespace) -> str:
    rows = [("p50", _percentile(latencies, 50)), ("p90", _percentile(latencies, 90)),
            ("p99", _percentile(latencies, 99)), ("max", max(latencies)),
            ("mean", statistics.fmean(latencies))]  # fmt: skip
    table = "\n".join(f"| {name} | {value:.1f} ms |" for name, value in rows)
    return f"""# Request → sender-call latency of a one-time-code message ({datetime.now(UTC):%Y-%m-%d})

Machine: {_machine()}; commit {_commit()}.
`bench/notify_latency.py --messages {args.messages} --warmup {args.warmup}`: PostgreSQL, a separate
`namoid worker` (interval 60 s, so only `LISTEN/NOTIFY` wakes it), the `dev` sender; from the start
of the enqueuing transaction to the worker's call of the sender, {len(latencies)} messages one at a time.

| statistic | latency |
|---|---|
{table}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as urls:
        if urls is None:
            sys.exit("needs PostgreSQL (NAMOID_TEST_PG_ADMIN_URL)")
        owner_url, app_url = urls
        extra = {
            "NAMOID_MIGRATION_DATABASE_URL": owner_url,
            "NAMOID_DATABASE_APP_ROLE": PG_ROLE,
            "NAMOID_WORKER_INTERVAL": "60",
        }
        dep = deployment("postgres", Path(tmp), app_url, extra)
        dep.cli("migrate")
        _postgres_roles(owner_url)
        dep.cli("org", "create", dep.slug, "--json")
        worker = subprocess.Popen([sys.executable, "-m", "namoid", "worker"], env=dep.env, cwd=ROOT)
        settings = Settings(
            database_url=app_url, keyring_file=Path(dep.env["NAMOID_KEYRING_FILE"]),
            data_dir=Path(dep.env["NAMOID_DATA_DIR"]), dev_mode=False,
        )  # fmt: skip
        services = Services(
            settings=settings, db=Database(app_url), keyring=Keyring.load(settings.resolved_keyring_file)
        )
        try:
            time.sleep(3)  # the worker's first pass, then it LISTENs
            latencies = asyncio.run(_run(services, dep.slug, args))
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    text = report(latencies, args)
    output = args.output or ROOT / "bench" / "results" / f"{datetime.now(UTC):%Y-%m-%d}-notify.md"
    output.write_text(text)
    print(text)


async def _run(services: Services, slug: str, args: argparse.Namespace) -> list[float]:
    try:
        return await measure(services, slug, args.messages, args.warmup)
    finally:
        await services.close()


if __name__ == "__main__":
    main()
