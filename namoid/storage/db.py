"""Async engine and tenant-scoped transactions (DESIGN.md §2).

``Database.tenant(org_id)`` opens a transaction in which, on PostgreSQL, the
per-transaction setting ``namoid.org_id`` is set with ``set_config(..., true)``
(the ``SET LOCAL`` of a bind parameter). Row-level security policies read it, so a
query that forgets its org filter still sees only that organization's rows.

On SQLite a transaction that reads and then writes could fail with ``database is locked``:
in WAL mode a reader whose snapshot is older than another writer's commit cannot become a
writer, and SQLite does not wait (no busy handler) for that case. So every transaction of
``tenant()``/``system()`` starts with ``BEGIN IMMEDIATE`` (the write lock taken up front, so it
never upgrades mid-transaction) and, within one process, they queue on one asyncio lock
instead of on SQLite's busy timeout; processes sharing the file (``--workers N``) wait for
each other through ``busy_timeout``. A transaction the same task opens while it holds the
lock (a nested read) begins deferred: it reads its WAL snapshot without the write lock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from namoid import metrics

ORG_SETTING = "namoid.org_id"
#: How long a SQLite connection waits for another process's write lock (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: The BEGIN a SQLite transaction of this context starts with (see the module docstring).
_sqlite_begin: ContextVar[str] = ContextVar("namoid_sqlite_begin", default="BEGIN")
#: The task holding a SQLite write transaction in this context (a task it starts inherits the
#: value, but is another task: it queues for the lock like any other).
_sqlite_writer: ContextVar[asyncio.Task[Any] | None] = ContextVar("namoid_sqlite_writer", default=None)


def holds_sqlite_writer() -> bool:
    """Whether this task is inside a SQLite transaction of this process (it holds the writer lock):
    it must then never wait for another task that may need the same lock."""
    return _sqlite_writer.get() is asyncio.current_task()


class UnsafeDatabaseRole(Exception):
    """The app's PostgreSQL role could bypass row-level security."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling off: it would BEGIN (deferred) only before the
    # first write, after the reads. _sqlite_begin_transaction emits the BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin_transaction(connection: Connection) -> None:
    connection.exec_driver_sql(_sqlite_begin.get())


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite with foreign keys, WAL and a busy timeout (the driver's
    ``timeout``, in seconds: how long a writer of another process is waited for)."""
    if make_url(url).get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000} | kwargs.get("connect_args", {})
    engine = create_async_engine(url, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_transaction)
    return engine


class Database:
    """The one handle on the database; sessions come only from here."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        metrics.watch_pool(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_writer = asyncio.Lock()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction (committed on success); on SQLite a serialised writer."""
        async with AsyncExitStack() as stack:
            begin = "BEGIN"  # PostgreSQL ignores it; on SQLite, a read nested in a writer
            task = asyncio.current_task()
            if not self.is_postgres and _sqlite_writer.get() is not task:
                await stack.enter_async_context(self._sqlite_writer)
                stack.callback(_sqlite_writer.reset, _sqlite_writer.set(task))
                begin = "BEGIN IMMEDIATE"
            stack.callback(_sqlite_begin.reset, _sqlite_begin.set(begin))
            session = await stack.enter_async_context(self._sessions())
            await stack.enter_async_context(session.begin())
            yield session

    @asynccontextmanager
    async def tenant(self, org_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
        """A transaction scoped to one organization (committed on success)."""
        async with self._transaction() as session:
            if self.is_postgres:
                await session.execute(
                    text("SELECT set_config(:name, :org, true)"),
                    {"name": ORG_SETTING, "org": str(org_id)},
                )
            yield session

    @asynccontextmanager
    async def system(self) -> AsyncIterator[AsyncSession]:
        """A transaction with no organization: sees organizations and system audit rows only."""
        async with self._transaction() as session:
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
