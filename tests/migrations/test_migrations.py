"""Migrations run up and down on both backends and match the models exactly."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, make_url

from namoid.storage.db import Database
from namoid.storage.migrate import alembic_config, downgrade_sync, upgrade_sync
from namoid.storage.models import AuditEntry, Base
from tests.conftest import PG_ADMIN_URL, Backend, admin_sql, prepare_app_role, unavailable

HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_models_and_migrations_do_not_drift(owner_db: Database) -> None:
    async with owner_db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


@pytest.fixture(params=["sqlite", "postgres"])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, for migrating from nothing."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"namoid_m_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(admin_sql([f"CREATE DATABASE {name}"]))
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    prepare_app_role()  # before the first migration looks for it, whichever worker gets there first
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin_sql([f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"]))


async def _version(url: str) -> str | None:
    db = Database(url)
    try:
        async with db.system() as session:
            return (
                await session.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
    finally:
        await db.dispose()


def test_downgrade_and_upgrade_round_trip(scratch_url: str) -> None:
    upgrade_sync(scratch_url)
    assert asyncio.run(_version(scratch_url)) == HEAD
    downgrade_sync(scratch_url)
    assert asyncio.run(_version(scratch_url)) is None
    upgrade_sync(scratch_url)
    assert asyncio.run(_version(scratch_url)) == HEAD


async def test_backend_is_at_head(backend: Backend, owner_db: Database) -> None:
    async with owner_db.system() as session:
        assert (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == HEAD


async def _migrations_audited(url: str) -> list[tuple[str | None, str | None]]:
    db = Database(url)
    try:
        async with db.system() as session:
            rows = await session.execute(
                select(AuditEntry.actor_type, AuditEntry.target_id).where(
                    AuditEntry.action == "schema.migrated"
                )
            )
            return [tuple(row) for row in rows]
    finally:
        await db.dispose()


def test_namoid_migrate_is_idempotent_and_audited(scratch_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAMOID_")}
    env |= {
        "NAMOID_MIGRATION_DATABASE_URL": scratch_url,
        "NAMOID_DATABASE_URL": scratch_url,
        "NAMOID_DATA_DIR": str(tmp_path),
    }
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "namoid", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    assert asyncio.run(_migrations_audited(scratch_url)) == [("admin", HEAD)]
