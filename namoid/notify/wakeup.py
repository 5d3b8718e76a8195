"""Waking the worker the moment a message is committed (DESIGN.md §8: codes must arrive fast).

Two paths, both carrying the org id: in-process (``Wakeup.wake`` from the committing
session's ``after_commit``; the embedded mode, where the worker runs in the server) and
PostgreSQL ``LISTEN/NOTIFY`` (``event_outbox.announce`` in the transaction; ``Listener``
in a separate ``namoid worker``). A lost wake-up only costs latency: every pass of the
worker delivers whatever is due anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.repos.event_outbox import CHANNEL

log = logging.getLogger(__name__)


class Wakeup:
    """The orgs with new messages since the worker last looked, and an event to wait on."""

    def __init__(self) -> None:
        self._orgs: set[uuid.UUID] = set()
        self._event = asyncio.Event()

    def wake(self, org_id: uuid.UUID) -> None:
        self._orgs.add(org_id)
        self._event.set()

    def interrupt(self) -> None:
        """End the current ``wait`` without naming an org (the worker is stopping)."""
        self._event.set()

    def wake_after_commit(self, session: AsyncSession, org_id: uuid.UUID) -> None:
        """Wake once ``session``'s transaction commits (a rollback wakes nobody)."""
        event.listen(session.sync_session, "after_commit", lambda _: self.wake(org_id), once=True)

    async def wait(self, seconds: float) -> set[uuid.UUID]:
        """The orgs woken for, after at most ``seconds`` (empty if none)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()
        orgs, self._orgs = self._orgs, set()
        return orgs


class Listener:
    """A dedicated asyncpg connection LISTENing on the outbox channel, feeding a ``Wakeup``.

    ``ensure`` (re)connects when needed and never raises: without it the worker polls.
    It returns True when it has just connected: what was committed before then woke nobody.
    """

    def __init__(self, database_url: str, wakeup: Wakeup) -> None:
        self.dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.wakeup = wakeup
        self.connection: asyncpg.Connection | None = None

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self.wakeup.wake(uuid.UUID(payload))

    async def ensure(self) -> bool:
        if self.connection is not None and not self.connection.is_closed():
            return False
        try:
            self.connection = await asyncpg.connect(self.dsn, timeout=5)
            await self.connection.add_listener(CHANNEL, self._notified)
            # A lost connection ends the worker's wait at once, so it reconnects and catches up.
            self.connection.add_termination_listener(lambda _conn: self.wakeup.interrupt())
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("cannot LISTEN for new messages (%s); polling instead", type(exc).__name__)
            self.connection = None
            return False
        return True

    async def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await self.connection.close(timeout=2)
            self.connection = None
