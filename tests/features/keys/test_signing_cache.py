"""The signing-key cache: one load per org however many requests miss at once (no pool starvation)."""

from __future__ import annotations

import asyncio

import pytest

from namoid.services import Services
from namoid.signing import OrgKeys, SigningKeyStore
from namoid.storage.models import Organization


async def test_concurrent_misses_share_one_load(
    services: Services, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SigningKeyStore(services.db, services.keyring)
    loads = 0
    real = store._load

    async def counted(target: Organization) -> OrgKeys:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)  # let every caller arrive while the load is under way
        return await real(target)

    monkeypatch.setattr(store, "_load", counted)
    results = await asyncio.gather(*(store.for_org(org) for _ in range(40)))
    assert loads == 1 and all(keys is results[0] for keys in results)


async def test_expired_keys_are_served_while_another_caller_reloads(
    services: Services, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    store = SigningKeyStore(services.db, services.keyring, ttl=60, clock=lambda: now[0])
    first = await store.for_org(org)
    now[0] = 61.0
    release = asyncio.Event()
    real = store._load

    async def slow(target: Organization) -> OrgKeys:
        await release.wait()
        return await real(target)

    monkeypatch.setattr(store, "_load", slow)
    reloading = asyncio.create_task(store.for_org(org))
    await asyncio.sleep(0)
    assert await asyncio.wait_for(store.for_org(org), 1) is first  # not blocked behind the reload
    release.set()
    assert (await reloading).published == first.published
