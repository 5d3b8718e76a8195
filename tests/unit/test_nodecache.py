"""The node caches (issue 15): lifetimes while listening or not, invalidation by topic, and no
value loaded before an invalidation kept after it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from namoid import nodecache
from namoid.nodecache import MISSING, UNLISTENED_TTL, Caches
from namoid.storage.db import Database


def _caches() -> tuple[Caches, list[float]]:
    now = [0.0]
    return Caches(clock=lambda: now[0]), now


def test_entries_live_max_age_while_listening_and_briefly_while_not() -> None:
    caches, now = _caches()
    cache = caches.cache(nodecache.CLIENT, 300)
    cache.put(("org", "c"), "client", cache.stamp())
    now[0] = UNLISTENED_TTL  # nobody tells this node about changes: the entry is too old already
    assert cache.get(("org", "c")) is MISSING
    caches.listening = True
    assert cache.get(("org", "c")) == "client"
    now[0] = 300
    assert cache.get(("org", "c")) is MISSING


def test_an_invalidation_drops_its_key_of_its_topic_only() -> None:
    caches, _ = _caches()
    caches.listening = True
    clients, keys = caches.cache(nodecache.CLIENT, 300), caches.cache(nodecache.SIGNING_KEYS, 60)
    clients.put(("org-1", "a b"), "one", clients.stamp())  # client ids may contain spaces
    clients.put(("org-1", "c"), "two", clients.stamp())
    keys.put("org-1", "keys", keys.stamp())
    nodecache.invalidated_here(nodecache.CLIENT, "org-1 a b")
    assert clients.get(("org-1", "a b")) is MISSING
    assert clients.get(("org-1", "c")) == "two" and keys.get("org-1") == "keys"


def test_an_org_change_clears_the_directory_with_its_unknown_slugs() -> None:
    caches, _ = _caches()
    caches.listening = True
    orgs = caches.cache(nodecache.ORG, 300)
    orgs.put("acme", "org", orgs.stamp())
    orgs.put("not-yet", None, orgs.stamp())
    caches.invalidate(nodecache.ORG, "0b6c1c2e-0000-0000-0000-000000000000")
    assert orgs.get("acme") is MISSING and orgs.get("not-yet") is MISSING


async def test_a_load_overtaken_by_an_invalidation_is_not_kept() -> None:
    caches, _ = _caches()
    caches.listening = True
    cache = caches.cache(nodecache.CLIENT, 300)
    read, changed = asyncio.Event(), asyncio.Event()

    async def load() -> str:
        read.set()  # the old row was read ...
        await changed.wait()  # ... and the change commits before the value is stored
        return "old secret"

    loading = asyncio.create_task(cache.get_or_load(("org", "c"), load))
    await read.wait()
    cache.drop(("org", "c"))
    changed.set()
    assert await loading == "old secret"  # that request began before the change
    assert cache.get(("org", "c")) is MISSING  # but no later one is answered from it


async def test_a_lost_listener_makes_the_node_forget_and_cache_briefly() -> None:
    caches, _ = _caches()
    caches.listening = True
    cache = caches.cache(nodecache.CLIENT, 300)
    cache.put(("org", "c"), "client", cache.stamp())
    nodecache.CacheListener("postgresql+asyncpg://u@127.0.0.1:1/none", caches)._lost(None)
    assert caches.listening is False and cache.get(("org", "c")) is MISSING


async def test_concurrent_misses_share_one_load() -> None:
    caches, _ = _caches()
    cache = caches.cache(nodecache.ORG, 300)
    loads = 0

    async def load() -> str:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)
        return "org"

    assert await asyncio.gather(*(cache.get_or_load("acme", load) for _ in range(50))) == ["org"] * 50
    assert loads == 1


async def test_a_sqlite_transaction_never_waits_for_another_tasks_load(tmp_path: Path) -> None:
    """A load that needs the SQLite writer lock is pending in another task; a task inside a
    transaction (holding that lock) misses the same key: it loads on its own instead of waiting
    for a loader that waits for it (found as a hang of concurrent token requests)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}")
    caches, _ = _caches()
    cache = caches.cache(nodecache.ORG, 300)

    async def load() -> str:
        async with db.system() as session:
            return str(await session.scalar(text("SELECT 'org'")))

    try:
        async with db.system():
            outside = asyncio.ensure_future(cache.get_or_load("slug", load))
            await asyncio.sleep(0)  # its load now queues for the lock this transaction holds
            async with asyncio.timeout(5):  # in this task (wait_for would make another)
                inside = await cache.get_or_load("slug", load)
        assert inside == "org" and await asyncio.wait_for(outside, timeout=5) == "org"
    finally:
        await db.engine.dispose()
