"""Node caches: what nearly every request reads and almost nothing changes (clients, orgs, the
token exchange policy, signing keys), kept in this process and dropped on every node the moment
a change commits.

A change announces itself inside its own transaction (``storage.repos.invalidations.announce``):
on PostgreSQL with ``NOTIFY`` on ``CHANNEL``, which PostgreSQL delivers to every listening node
when the transaction commits and never on rollback, so no node can miss a change that a crash
right after the commit left unpublished; in the committing process also at once, after the
commit. Each server LISTENs on a dedicated connection (``CacheListener``).

Fail safe: while a node is not listening (SQLite, or its connection is lost) its entries live
at most ``UNLISTENED_TTL`` seconds, so a change made by another process (a CLI command on the
embedded database) is seen within that; when it (re)connects every cache is cleared, since what
was announced while it was away is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from namoid.storage.db import holds_sqlite_writer

log = logging.getLogger(__name__)

#: The PostgreSQL channel; the payload is ``"{topic} {key}"``.
CHANNEL = "namoid_cache"
#: The longest an entry lives on a node that does not hear the other nodes' invalidations.
UNLISTENED_TTL = 1.0
#: Every topic a change may announce, and what its key is.
CLIENT = "client"  # "{org_id} {client_id}"
ORG = "org"  # the org id; any change clears the whole directory (it also caches unknown slugs)
EXCHANGE_POLICY = "exchange_policy"  # the org id
SIGNING_KEYS = "signing_keys"  # the org id
RECONNECT_DELAY = 1.0

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Missing(enum.Enum):
    MISSING = enum.auto()


MISSING = Missing.MISSING


class NodeCache(Generic[K, V]):
    """Entries of one topic, each at most ``max_age`` seconds old (``unlistened_max_age`` while
    the node does not hear invalidations)."""

    def __init__(
        self,
        caches: Caches,
        max_age: float,
        unlistened_max_age: float,
        clock: Callable[[], float],
        max_entries: int = 10_000,
    ) -> None:
        self._caches = caches
        self.max_age = max_age
        self.unlistened_max_age = unlistened_max_age
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}
        #: Bumped by every drop: a load that began before an invalidation must not store its value.
        self._generation = 0

    def _age_limit(self) -> float:
        return self.max_age if self._caches.listening else min(self.max_age, self.unlistened_max_age)

    def get(self, key: K) -> V | Missing:
        entry = self._entries.get(key)
        if entry is None or self.clock() - entry[0] >= self._age_limit():
            return MISSING
        return entry[1]

    def peek(self, key: K) -> V | Missing:
        """The entry however old, unless it was invalidated."""
        entry = self._entries.get(key)
        return MISSING if entry is None else entry[1]

    def stamp(self) -> int:
        """Take before loading a value; ``put`` it with this stamp."""
        return self._generation

    def put(self, key: K, value: V, stamp: int) -> None:
        """Keep ``value`` unless something was invalidated since ``stamp`` (the load may predate it)."""
        if stamp != self._generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (self.clock(), value)

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, else ``load()``'s; concurrent misses of a key share one load, so an
        entry running out under load costs one query, not one per waiting request."""
        cached = self.get(key)
        if not isinstance(cached, Missing):
            return cached
        if holds_sqlite_writer():
            # Waiting for another task's load could wait for this task's own transaction (the
            # loader queues for the SQLite writer lock this task holds): load here, unshared.
            return await self._load(key, load)
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, load))
            self._loading[key] = pending
            pending.add_done_callback(lambda _: self._loading.pop(key, None))
        return await asyncio.shield(pending)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        stamp = self.stamp()
        value = await load()
        self.put(key, value, stamp)
        return value

    def drop(self, key: K) -> None:
        self._generation += 1
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()


class Caches:
    """One node's caches by topic, and whether it hears the other nodes' invalidations."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.listening = False
        self._topics: dict[str, list[NodeCache[Any, Any]]] = {}
        _EVERY.add(self)

    def cache(
        self,
        topic: str,
        max_age: float,
        *,
        unlistened_max_age: float = UNLISTENED_TTL,
        clock: Callable[[], float] | None = None,
    ) -> NodeCache[Any, Any]:
        cache: NodeCache[Any, Any] = NodeCache(self, max_age, unlistened_max_age, clock or self.clock)
        self._topics.setdefault(topic, []).append(cache)
        return cache

    def invalidate(self, topic: str, key: str) -> None:
        for cache in self._topics.get(topic, ()):
            if topic == ORG:
                cache.clear()
            else:
                cache.drop(tuple(key.split(" ", 1)) if " " in key else key)

    def clear(self) -> None:
        for caches in self._topics.values():
            for cache in caches:
                cache.clear()


_EVERY: weakref.WeakSet[Caches] = weakref.WeakSet()


def invalidated_here(topic: str, key: str) -> None:
    """A change committed in this process: drop it from its caches now, without waiting for NOTIFY."""
    for caches in list(_EVERY):
        caches.invalidate(topic, key)


class CacheListener:
    """A dedicated asyncpg connection LISTENing on ``CHANNEL`` for as long as ``run`` runs.

    ``caches.listening`` is true only while that connection is up; on each (re)connection the
    caches are cleared. It never raises: a failed connection is retried every second.
    """

    def __init__(self, database_url: str, caches: Caches) -> None:
        self.dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.caches = caches

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        topic, _, key = payload.partition(" ")
        self.caches.invalidate(topic, key)

    def _lost(self, _conn: Any) -> None:
        self.caches.listening = False
        self.caches.clear()

    async def run(self) -> None:
        while True:
            try:
                await self._listen_until_lost()
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("cannot LISTEN for cache invalidations (%s); caching briefly", type(exc).__name__)
            finally:
                self._lost(None)
            await asyncio.sleep(RECONNECT_DELAY)

    async def _listen_until_lost(self) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=5)
        try:
            lost = asyncio.Event()

            def terminated(conn: Any) -> None:
                self._lost(conn)
                lost.set()

            connection.add_termination_listener(terminated)
            await connection.add_listener(CHANNEL, self._notified)
            self.caches.clear()  # what was announced before now was not heard
            self.caches.listening = True
            await lost.wait()
        finally:
            if not connection.is_closed():
                with contextlib.suppress(OSError, asyncpg.PostgresError):
                    await connection.close(timeout=2)


@asynccontextmanager
async def listening(database_url: str | None, caches: Caches) -> AsyncIterator[None]:
    """Listen for invalidations while the block runs (PostgreSQL; ``None``: SQLite, never listening)."""
    if database_url is None:
        yield
        return
    task = asyncio.create_task(CacheListener(database_url, caches).run(), name="nodecache-listener")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
