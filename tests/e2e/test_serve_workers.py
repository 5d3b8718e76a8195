"""``namoid serve --workers N`` (issue 15): N real processes sharing the public and admin ports.

Which worker answered is read from the kernel, not from the server: each test connection stays
open, and ``/proc/net/tcp`` plus each worker's ``/proc/PID/fd`` say which process holds its
server side.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from namoid.crypto.tls import ensure_dev_certificate
from tests.conftest import POSTGRES_ONLY, Backend
from tests.e2e.test_ratelimit_shared import _create_org
from tests.e2e.test_server import Server, _env, start, stop
from tests.unit.ratelimit.test_limiter import require_redis


def workers_of(server: Server) -> set[int]:
    """The server's child processes (the kernel here has no /proc/PID/task/TID/children)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == server.process.pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _holders(pids: set[int], server_port: int) -> dict[int, int]:
    """{client port: pid of the worker holding the server side} of established connections."""
    inode_of = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == server_port and fields[3] == "01":  # ESTABLISHED
                inode_of[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    holders = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if (match := re.fullmatch(r"socket:\[(\d+)\]", target)) and match.group(1) in inode_of:
                holders[inode_of[match.group(1)]] = pid
    return holders


def _connections(server: Server, count: int, url: str = "") -> list[http.client.HTTPSConnection]:
    """``count`` kept-alive connections, each having got one answer from the server at ``url``.

    Opened all at once: the workers accept on one shared socket, and connections opened one after
    another, each while both workers idle, may all be won by the same worker (seen in CI)."""
    parts = urlsplit(url or server.base_url)

    def one() -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, context=server.context, timeout=30
        )
        conn.request("GET", "/healthz" if not url else "/admin/v1/openapi.json")
        conn.getresponse().read()
        return conn

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: one(), range(count)))


def _wait_for(predicate: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The embedded default (SQLite, background jobs in the server) with two workers and Redis."""
    server = start(
        tmp_path_factory.mktemp("workers"), wait=120, NAMOID_WORKERS="2", NAMOID_REDIS_URL=require_redis()
    )
    try:
        _wait_for(lambda: len(workers_of(server)) == 2)
        yield server
    finally:
        stop(server)


def test_both_workers_answer_on_the_public_and_the_admin_port(two_workers: Server) -> None:
    pids = workers_of(two_workers)
    assert len(pids) == 2 and two_workers.process.pid not in pids
    for url in ("", two_workers.admin_url or ""):
        conns = _connections(two_workers, 24, url)
        try:
            holders = _holders(pids, urlsplit(url or two_workers.base_url).port or 443)
            assert {conn.sock.getsockname()[1] for conn in conns} <= set(holders)
            assert set(holders.values()) == pids  # each worker holds some of the connections
        finally:
            for conn in conns:
                conn.close()


def test_background_jobs_run_in_one_worker_only(two_workers: Server) -> None:
    log = two_workers.log()
    assert log.count("background jobs run in this process") == 1
    assert log.count("Application startup complete") == 4  # two apps in each of two workers


def _metrics_directory(server: Server) -> Path:
    match = re.search(r"worker metrics kept in (\S+) \(PROMETHEUS_MULTIPROC_DIR\)", server.log())
    assert match is not None
    return Path(match.group(1))


def test_the_workers_share_one_private_metrics_directory(two_workers: Server) -> None:
    directory = _metrics_directory(two_workers)
    assert directory.is_dir() and stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_killed_worker_is_replaced(two_workers: Server) -> None:
    before = workers_of(two_workers)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: len(pids := workers_of(two_workers)) == 2 and victim not in pids)
    after = workers_of(two_workers)
    assert before - {victim} < after and victim not in after and len(after) == 2
    _wait_for(lambda: set(_answering(two_workers)) == after)  # the new one serves too
    assert "ended (signal SIGKILL); starting a new one" in two_workers.log()


def _answering(server: Server) -> set[int]:
    pids = workers_of(server)
    try:
        conns = _connections(server, 16)
    except OSError:
        return set()
    try:
        return set(_holders(pids, urlsplit(server.base_url).port or 443).values())
    finally:
        for conn in conns:
            conn.close()


def test_sigterm_stops_every_process(tmp_path: Path) -> None:
    server = start(tmp_path, wait=120, NAMOID_WORKERS="2", NAMOID_REDIS_URL=require_redis())
    try:
        _wait_for(lambda: len(workers_of(server)) == 2)
        pids, metrics = workers_of(server), _metrics_directory(server)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
    finally:
        stop(server)
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]  # no orphan, no zombie
    assert not metrics.exists()


def _refused(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "namoid", "serve", *args],
        env=_env(NAMOID_DATA_DIR=str(tmp_path / "data"), **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_embedded_workers_without_redis_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    result = _refused(tmp_path, "--workers", "2")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "2 workers need NAMOID_REDIS_URL" in result.stderr and "NAMOID_WORKERS=1" in result.stderr
    assert "Running upgrade" not in result.stderr  # refused before migrating the embedded database


def test_production_workers_without_redis_are_refused_even_as_a_single_node(tmp_path: Path) -> None:
    cert, key = ensure_dev_certificate(tmp_path / "tls")
    result = _refused(
        tmp_path,
        NAMOID_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        NAMOID_TLS_CERT_FILE=str(cert),
        NAMOID_TLS_KEY_FILE=str(key),
        NAMOID_RATELIMIT_SINGLE_NODE="1",
        NAMOID_WORKERS="3",
    )
    assert result.returncode == 2 and "3 workers need NAMOID_REDIS_URL" in result.stderr


def test_a_bad_worker_count_is_one_clear_error(tmp_path: Path) -> None:
    for args, env in ((("--workers", "0"), {}), ((), {"NAMOID_WORKERS": "many"})):
        result = _refused(tmp_path, *args, **env)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "workers" in result.stderr.lower()


@POSTGRES_ONLY
def test_a_rate_limit_budget_holds_across_workers(
    backend: Backend, tmp_path: Path, keyring_file: Path
) -> None:
    """Production on PostgreSQL and Redis: token.ip allows 4 a minute, whichever worker counts
    (below the 5 failed client authentications a minute that would refuse first)."""
    slug = f"workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_org(backend.app_url, keyring_file, slug))
    cert, key = ensure_dev_certificate(tmp_path / "tls")
    server = start(
        tmp_path,
        cafile=cert,
        wait=120,
        NAMOID_DATABASE_URL=backend.app_url,
        NAMOID_TLS_CERT_FILE=str(cert),
        NAMOID_TLS_KEY_FILE=str(key),
        NAMOID_KEYRING_FILE=str(keyring_file),
        NAMOID_REDIS_URL=require_redis(),
        NAMOID_RATE_LIMITS=json.dumps({"token.ip": "4/minute"}),
        NAMOID_WORKERS="2",
    )
    conns: list[http.client.HTTPSConnection] = []
    try:
        _wait_for(lambda: len(workers_of(server)) == 2)
        pids = workers_of(server)
        body = f"grant_type=client_credentials&client_id=client-{uuid.uuid4().hex}"
        statuses = []
        for _ in range(12):  # each request on a connection of its own, kept open
            conn = http.client.HTTPSConnection(
                "localhost", urlsplit(server.base_url).port, context=server.context
            )
            conn.request(
                "POST", f"/o/{slug}/token", body, {"Content-Type": "application/x-www-form-urlencoded"}
            )
            statuses.append(conn.getresponse().status)
            conns.append(conn)
        holders = _holders(pids, urlsplit(server.base_url).port or 443)
        served_by = [holders[conn.sock.getsockname()[1]] for conn in conns]
    finally:
        for conn in conns:
            conn.close()
        stop(server)
    # Both workers took requests; per-process counters would then have let at least 5 through.
    assert set(served_by) == pids
    assert statuses == [401] * 4 + [429] * 8
