"""Async engine and tenant-scoped transactions (DESIGN.md §2).

``Database.tenant(org_id)`` opens a transaction in which, on PostgreSQL, the
per-transaction setting ``namoid.org_id`` is set with ``set_config(..., true)``
(the ``SET LOCAL`` of a bind parameter). Row-level security policies read it, so a
query that forgets its org filter still sees only that organization's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from namoid import metrics

ORG_SETTING = "namoid.org_id"


class UnsafeDatabaseRole(Exception):
    """The app's PostgreSQL role could bypass row-level security."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite with foreign keys, WAL and a busy timeout."""
    engine = create_async_engine(url, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The one handle on the database; sessions come only from here."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        metrics.watch_pool(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def tenant(self, org_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
        """A transaction scoped to one organization (committed on success)."""
        async with self._sessions() as session, session.begin():
            if self.is_postgres:
                await session.execute(
                    text("SELECT set_config(:name, :org, true)"),
                    {"name": ORG_SETTING, "org": str(org_id)},
                )
            yield session

    @asynccontextmanager
    async def system(self) -> AsyncIterator[AsyncSession]:
        """A transaction with no organization: sees organizations and system audit rows only."""
        async with self._sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def assert_role_cannot_bypass_rls(self) -> None:
        """Refuse a PostgreSQL login that is a superuser or has BYPASSRLS (DESIGN.md §2)."""
        if not self.is_postgres:
            return
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles"
                        " WHERE rolname = current_user"
                    )
                )
            ).one()
        if row[1]:
            raise UnsafeDatabaseRole(
                f"database role {row[0]!r} is a superuser or has BYPASSRLS; connect the app as a "
                "role without them (see README, 'PostgreSQL roles')"
            )

    async def dispose(self) -> None:
        await self.engine.dispose()
