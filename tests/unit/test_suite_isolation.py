"""The suite's own isolation for parallel runs (pytest-xdist): a Redis database per worker, and the
cluster-wide ``namoid_app`` role prepared by several processes at once without a catalog conflict."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from namoid.storage.db import make_engine
from tests.conftest import APP_ROLE, PG_ADMIN_URL, prepare_app_role, unavailable, worker_redis_url


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("redis://127.0.0.1:6379/15", None, "redis://127.0.0.1:6379/15"),  # serial: as given
        ("redis://127.0.0.1:6379/15", "gw0", "redis://127.0.0.1:6379/15"),
        ("redis://127.0.0.1:6379/15", "gw3", "redis://127.0.0.1:6379/12"),
        ("redis://127.0.0.1:6379/2", "gw5", "redis://127.0.0.1:6379/13"),  # wraps within 0..15
        ("redis://:pw@cache:6380", "gw1", "redis://:pw@cache:6380/15"),  # no database: 0
    ],
)
def test_each_worker_gets_a_redis_database_of_its_own(url: str, worker: str | None, expected: str) -> None:
    assert worker_redis_url(url, worker) == expected


def test_workers_count_down_to_distinct_databases() -> None:
    urls = {worker_redis_url("redis://127.0.0.1:6379/8", f"gw{n}") for n in range(16)}
    assert len(urls) == 16


async def _role_can_log_in() -> bool:
    engine = make_engine(PG_ADMIN_URL)
    try:
        async with engine.connect() as conn:
            query = text("SELECT rolcanlogin AND NOT rolbypassrls FROM pg_roles WHERE rolname = :name")
            return bool((await conn.execute(query, {"name": APP_ROLE})).scalar_one())
    finally:
        await engine.dispose()


def test_app_role_prepared_by_many_processes_at_once() -> None:
    """Eight concurrent ALTER ROLEs on one role: without the advisory lock, "tuple concurrently updated"."""
    try:
        prepare_app_role()
    except Exception as exc:  # connection refused, auth failure, …
        unavailable("PostgreSQL", exc)
    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(prepare_app_role) for _ in range(8)]:
            future.result()
    assert asyncio.run(_role_can_log_in())
