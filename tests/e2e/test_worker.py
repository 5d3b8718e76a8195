"""``namoid worker`` as real processes: a worker killed mid-delivery loses no event (SQLite, PostgreSQL).

The receiver is a real HTTP(S) server. On SQLite NamoID runs embedded (dev mode, a plain
http loopback receiver); on PostgreSQL it runs in production mode as the RLS-bound app
role, and the receiver is https with a certificate trusted through NAMOID_WEBHOOK_CA_FILE,
on 127.0.0.1 allowed through NAMOID_OUTBOUND_ALLOW_NETWORKS.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from namoid import audit, events
from namoid.crypto.keyring import create_keyring_file
from namoid.crypto.tls import ensure_dev_certificate
from namoid.storage.db import Database
from namoid.storage.models import OutboxEntry
from namoid.storage.repos import event_outbox
from namoid.tenancy import organizations
from tests.conftest import POSTGRES_ONLY, Backend, scratch_pg_database
from tests.e2e.test_server import _env, start, stop
from tests.receiver import receiver

WEBHOOK_TIMEOUT = 2
#: EventDelivery's lease for that timeout: a killed worker's rows are due again after it.
LEASE = 2 * WEBHOOK_TIMEOUT + 5


@dataclass
class Deployment:
    env: dict[str, str]
    database_url: str
    #: The receiver's TLS pair (PostgreSQL, production mode); None: plain http on loopback (dev mode).
    receiver_tls: tuple[Path, Path] | None
    logs: Path

    def cli(self, *args: str) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "namoid", *args, "--json"],
            capture_output=True,
            text=True,
            env=_env(**self.env),
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def start_worker(self, name: str) -> subprocess.Popen[str]:
        with (self.logs / f"{name}.log").open("w") as log:
            return subprocess.Popen(  # stopped by the test, by pid
                [sys.executable, "-m", "namoid", "worker"],
                env=_env(**self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()

    def new_org(self) -> str:
        slug = f"hooks-{uuid.uuid4().hex[:8]}"
        self.cli("org", "create", slug)
        return slug


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """Embedded on SQLite; production mode on a PostgreSQL database of its own (a worker serves all orgs)."""
    data_dir = tmp_path / "data"
    common = {
        "NAMOID_DATA_DIR": str(data_dir),
        "NAMOID_WEBHOOK_TIMEOUT": str(WEBHOOK_TIMEOUT),
        "NAMOID_WORKER_INTERVAL": "0.2",
    }
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{data_dir.resolve() / 'namoid.db'}"
        yield Deployment(common, url, None, tmp_path)
        return
    with scratch_pg_database() as pg:
        tls = ensure_dev_certificate(tmp_path / "tls")
        create_keyring_file(tmp_path / "keyring.json")
        env = common | {
            "NAMOID_DATABASE_URL": pg.app_url,
            "NAMOID_KEYRING_FILE": str(tmp_path / "keyring.json"),
            "NAMOID_WEBHOOK_CA_FILE": str(tls[0]),
            "NAMOID_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32",  # the receiver is internal, by name
        }
        yield Deployment(env, pg.app_url, tls, tmp_path)


async def _raise_event(url: str, slug: str) -> uuid.UUID:
    db = Database(url)
    try:
        org = await organizations.require(db, slug)
        async with db.tenant(org.id) as session:
            event = await events.raise_event(
                session,
                org.id,
                "user.disabled",
                actor=audit.Actor("admin", "e2e"),
                subject=events.user_subject("u-42"),
            )
        return event.id
    finally:
        await db.dispose()


async def _outbox(url: str, slug: str) -> list[OutboxEntry]:
    db = Database(url)
    try:
        org = await organizations.require(db, slug)
        async with db.tenant(org.id) as session:
            return list(await event_outbox.list_for_org(session, org.id))
    finally:
        await db.dispose()


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _terminate(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def test_killed_mid_delivery_the_event_is_delivered_after_restart(deployment: Deployment) -> None:
    slug = deployment.new_org()
    with receiver("hang", cert=deployment.receiver_tls) as rx:
        deployment.cli("webhooks", "add", "--org", slug, "--url", rx.url)
        event_id = asyncio.run(_raise_event(deployment.database_url, slug))

        first = deployment.start_worker("first")
        try:
            assert rx.arrived.wait(60), deployment.log("first")
        finally:
            first.kill()  # SIGKILL while the receiver has not answered yet
            first.wait()
        killed_at = time.monotonic()
        [row] = asyncio.run(_outbox(deployment.database_url, slug))
        assert row.attempts == 1 and row.delivered_at is None and row.leased_until is not None

        rx.behaviour = "accept"
        rx.release.set()
        second = deployment.start_worker("second")
        try:
            _wait_for(lambda: len(rx.received) == 2, 60, "the redelivery")
            waited = time.monotonic() - killed_at
        finally:
            stopped = _terminate(second)
    assert stopped == 0, deployment.log("second")  # SIGTERM stops the worker cleanly
    assert "SIGTERM received" in deployment.log("second")
    assert rx.jtis() == [event_id.hex, event_id.hex]  # the same SET again: the receiver deduplicates
    assert waited > LEASE - 3  # not before the dead worker's lease ran out
    [row] = asyncio.run(_outbox(deployment.database_url, slug))
    assert row.attempts == 2 and row.delivered_at is not None and row.failed_at is None


def test_worker_once_runs_every_job_and_exits(deployment: Deployment) -> None:
    slug = deployment.new_org()
    with receiver(cert=deployment.receiver_tls) as rx:
        deployment.cli("webhooks", "add", "--org", slug, "--url", rx.url)
        event_id = asyncio.run(_raise_event(deployment.database_url, slug))
        results = deployment.cli("worker", "--once")
    assert results["deliver_events"] == {"delivered": 1, "retried": 0, "failed": 0}
    assert results["sweep_expired"] == {} and results["prune_signing_keys"] == {"removed": 0}
    assert results["seal_audit"]["sealed"] > 0 and "error" not in results["audit_retention"]
    assert rx.jtis() == [event_id.hex]
    assert rx.received[0][0]["content-type"] == "application/secevent+jwt"


def test_the_embedded_server_delivers_events_itself(tmp_path: Path) -> None:
    server = start(tmp_path, NAMOID_WORKER_INTERVAL="0.2")
    try:
        env = {"NAMOID_DATA_DIR": str(tmp_path / "data"), "NAMOID_BASE_URL": server.base_url}
        deployment = Deployment(
            env, f"sqlite+aiosqlite:///{(tmp_path / 'data').resolve() / 'namoid.db'}", None, tmp_path
        )
        slug = deployment.new_org()
        with receiver() as rx:
            deployment.cli("webhooks", "add", "--org", slug, "--url", rx.url)
            event_id = asyncio.run(_raise_event(deployment.database_url, slug))
            assert rx.arrived.wait(30), server.log()
    finally:
        stop(server)
    assert rx.jtis() == [event_id.hex]
    log = server.log()
    assert "background jobs run in this process" in log
    assert "Application shutdown complete" in log and "Traceback" not in log  # the task was cancelled cleanly


@POSTGRES_ONLY
def test_worker_refuses_a_role_that_bypasses_rls(backend: Backend, tmp_path: Path) -> None:
    create_keyring_file(tmp_path / "keyring.json")
    env = {"NAMOID_DATABASE_URL": backend.owner_url, "NAMOID_KEYRING_FILE": str(tmp_path / "keyring.json")}
    result = subprocess.run(
        [sys.executable, "-m", "namoid", "worker", "--once"],
        capture_output=True,
        text=True,
        env=_env(**env),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "BYPASSRLS" in result.stderr and "Traceback" not in result.stderr
