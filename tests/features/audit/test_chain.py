"""Tamper evidence (DESIGN.md §5): sealing, and `verify` naming the first altered, missing or moved entry."""

from __future__ import annotations

import pytest
from sqlalchemy import Uuid, bindparam, text

from namoid.audit import sealing
from namoid.audit.chain import GENESIS
from namoid.audit.verification import verify_chain
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import Organization
from tests.features.audit.conftest import seqs, tampering, write_entries


def _org_sql(statement: str) -> object:
    return text(statement).bindparams(bindparam("org", type_=Uuid))


async def test_sealing_links_every_entry_once(services: Services, org: Organization) -> None:
    await write_entries(services, org, 30)
    first = await sealing.seal_all(services, [org])
    again = await sealing.seal_all(services, [org])
    verdict = await verify_chain(services.db, org.id)
    assert first.chains[org.slug] >= 31  # the org's creation entries too
    assert again.chains[org.slug] == 0
    assert verdict.intact and verdict.checked == first.chains[org.slug] and verdict.unsealed == 0
    assert verdict.head != GENESIS and first.checkpoints == 1


async def test_small_batches_make_the_same_chain(services: Services, org: Organization) -> None:
    await write_entries(services, org, 12)
    await sealing.seal_chain(services.db, org.id, batch=5)
    await write_entries(services, org, 3)
    assert (await verify_chain(services.db, org.id)).unsealed == 3
    await sealing.seal_chain(services.db, org.id, batch=2)
    verdict = await verify_chain(services.db, org.id, page=4)
    assert verdict.intact and verdict.unsealed == 0


async def test_an_edited_entry_is_named(services: Services, owner_db: Database, org: Organization) -> None:
    await write_entries(services, org, 10)
    await sealing.seal_all(services, [org])
    target = (await seqs(owner_db, org))[5]
    async with tampering(owner_db) as session:
        await session.execute(text(f"UPDATE audit_log SET outcome = 'failure' WHERE seq = {target}"))
    verdict = await verify_chain(services.db, org.id)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.seq) == ("altered", target)
    assert f"seq {target}" in verdict.problem.message


async def test_a_deleted_entry_is_named(services: Services, owner_db: Database, org: Organization) -> None:
    await write_entries(services, org, 10)
    await sealing.seal_all(services, [org])
    target = (await seqs(owner_db, org))[3]
    async with tampering(owner_db) as session:
        await session.execute(text(f"DELETE FROM audit_log WHERE seq = {target}"))
    verdict = await verify_chain(services.db, org.id)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.seq) == ("missing", target)


async def test_reordered_entries_are_named(services: Services, owner_db: Database, org: Organization) -> None:
    await write_entries(services, org, 10)
    await sealing.seal_all(services, [org])
    first, second = (await seqs(owner_db, org))[4:6]
    async with tampering(owner_db) as session:
        # Swap the two rows' places in the log, as a forger moving an entry earlier would.
        await session.execute(text(f"UPDATE audit_log SET seq = -1 WHERE seq = {first}"))
        await session.execute(text(f"UPDATE audit_log SET seq = {first} WHERE seq = {second}"))
        await session.execute(text(f"UPDATE audit_log SET seq = {second} WHERE seq = -1"))
    verdict = await verify_chain(services.db, org.id)
    assert verdict.problem is not None
    assert (verdict.problem.kind, verdict.problem.seq) == ("reordered", first)


async def test_cutting_the_tail_with_its_seals_is_caught_by_the_checkpoint(
    services: Services, owner_db: Database, org: Organization
) -> None:
    await write_entries(services, org, 10)
    await sealing.seal_all(services, [org])
    tail = (await seqs(owner_db, org))[-3:]
    async with tampering(owner_db) as session:
        listed = ", ".join(map(str, tail))
        await session.execute(text(f"DELETE FROM audit_seals WHERE seq IN ({listed})"))
        await session.execute(text(f"DELETE FROM audit_log WHERE seq IN ({listed})"))
    verdict = await verify_chain(services.db, org.id)
    assert verdict.problem is not None and verdict.problem.kind == "truncated"


async def test_a_forged_link_is_caught(services: Services, owner_db: Database, org: Organization) -> None:
    """Rewriting an entry AND its seal still breaks the next link."""
    await write_entries(services, org, 6)
    await sealing.seal_all(services, [org])
    target = (await seqs(owner_db, org))[2]
    async with tampering(owner_db) as session:
        await session.execute(text(f"UPDATE audit_log SET outcome = 'failure' WHERE seq = {target}"))
        await session.execute(text(f"UPDATE audit_seals SET hash = '{'ab' * 32}' WHERE seq = {target}"))
    verdict = await verify_chain(services.db, org.id)
    assert verdict.problem is not None and verdict.problem.kind in ("altered", "broken")


@pytest.mark.parametrize("count", [0, 1])
async def test_tiny_chains_verify(services: Services, org: Organization, count: int) -> None:
    await write_entries(services, org, count)
    await sealing.seal_all(services, [org])
    assert (await verify_chain(services.db, org.id)).intact
