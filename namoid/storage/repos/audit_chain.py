"""The audit chain's tables: seals, signed checkpoints and retention runs (all append-only).

``org_id`` None means the system chain (audit rows outside any organization).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, and_, delete, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.audit.chain import chain_name
from namoid.storage.models import AuditCheckpoint, AuditEntry, AuditRetention, AuditSeal


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries an export or an admin listing wants (all optional)."""

    since: datetime | None = None
    until: datetime | None = None
    actor_type: str | None = None
    actor_id: str | None = None
    action: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(AuditEntry.occurred_at >= self.since)
        if self.until is not None:
            found.append(AuditEntry.occurred_at < self.until)
        if self.actor_type is not None:
            found.append(AuditEntry.actor_type == self.actor_type)
        if self.actor_id is not None:
            found.append(AuditEntry.actor_id == self.actor_id)
        if self.action is not None:
            found.append(AuditEntry.action == self.action)
        return found


_ENTRY = cast(Table, AuditEntry.__table__)
_SEAL = cast(Table, AuditSeal.__table__)


def _entries_of(org_id: uuid.UUID | None) -> ColumnElement[bool]:
    return AuditEntry.org_id.is_(None) if org_id is None else AuditEntry.org_id == org_id


def _seals_of(org_id: uuid.UUID | None) -> ColumnElement[bool]:
    """The chain's seals: its name is the org's id, so this scopes to the org (and RLS too).

    Matching on ``chain`` alone lets the (chain, position) index serve chain order.
    """
    return AuditSeal.chain == chain_name(org_id)


def _is_sealed() -> ColumnElement[bool]:
    return exists().where(AuditSeal.seq == AuditEntry.seq)


async def head(session: AsyncSession, org_id: uuid.UUID | None) -> AuditSeal | None:
    """The chain's last link."""
    query = select(AuditSeal).where(_seals_of(org_id)).order_by(AuditSeal.position.desc()).limit(1)
    return (await session.scalars(query)).first()


async def unsealed(
    session: AsyncSession, org_id: uuid.UUID | None, after_seq: int, limit: int
) -> Sequence[Row[Any]]:
    """Entries with ``seq > after_seq`` not sealed yet, oldest first (plain rows: sealing is bulk work).

    Range reads by ``seq`` alone rather than one anti-join, whose plan goes wrong on a
    fast-growing seal table with stale statistics (a scan of the whole chain per batch).
    """
    recent = await session.execute(select(AuditSeal.seq, AuditSeal.chain).where(AuditSeal.seq > after_seq))
    sealed = {seq for seq, chain in recent if chain == chain_name(org_id)}
    seqs = (
        await session.scalars(
            select(AuditEntry.seq)
            .where(_entries_of(org_id), AuditEntry.seq > after_seq)
            .order_by(AuditEntry.seq)
            .limit(limit + len(sealed))
        )
    ).all()
    wanted = [seq for seq in seqs if seq not in sealed][:limit]
    if not wanted:
        return []
    rows = await session.execute(
        select(*_ENTRY.columns)
        .where(_entries_of(org_id), AuditEntry.seq.between(wanted[0], wanted[-1]))
        .order_by(AuditEntry.seq)
    )
    return [row for row in rows if row.seq not in sealed]


async def add_seals(session: AsyncSession, org_id: uuid.UUID | None, seals: list[dict[str, Any]]) -> None:
    await session.execute(insert(_SEAL), [{**seal, "org_id": org_id} for seal in seals])


async def links(
    session: AsyncSession, org_id: uuid.UUID | None, after_position: int, limit: int
) -> Sequence[tuple[Row[Any], Row[Any] | None]]:
    """Seals after ``after_position`` in chain order, each with its entry (None if gone)."""
    seals = (
        await session.execute(
            select(*_SEAL.columns)
            .where(_seals_of(org_id), AuditSeal.position > after_position)
            .order_by(AuditSeal.position)
            .limit(limit)
        )
    ).all()
    if not seals:
        return []
    entries = await session.execute(
        select(*_ENTRY.columns).where(_entries_of(org_id), AuditEntry.seq.in_([seal.seq for seal in seals]))
    )
    by_seq = {entry.seq: entry for entry in entries}
    return [(seal, by_seq.get(seal.seq)) for seal in seals]


async def sealed_page(
    session: AsyncSession, org_id: uuid.UUID | None, after_position: int, limit: int, wanted: AuditFilter
) -> Sequence[tuple[AuditSeal, AuditEntry]]:
    """Present, sealed entries matching ``wanted``, in chain order after ``after_position``."""
    query = (
        select(AuditSeal, AuditEntry)
        .join(AuditEntry, AuditEntry.seq == AuditSeal.seq)
        .where(
            _seals_of(org_id), _entries_of(org_id), AuditSeal.position > after_position, *wanted.conditions()
        )
        .order_by(AuditSeal.position)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def unsealed_page(
    session: AsyncSession, org_id: uuid.UUID | None, after_seq: int, limit: int, wanted: AuditFilter
) -> Sequence[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(_entries_of(org_id), AuditEntry.seq > after_seq, ~_is_sealed(), *wanted.conditions())
        .order_by(AuditEntry.seq)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def position_of_content(
    session: AsyncSession, org_id: uuid.UUID | None, content_hash: str
) -> int | None:
    query = (
        select(AuditSeal.position).where(_seals_of(org_id), AuditSeal.content_hash == content_hash).limit(1)
    )
    return (await session.scalars(query)).first()


async def seal_at(session: AsyncSession, org_id: uuid.UUID | None, position: int) -> AuditSeal | None:
    query = select(AuditSeal).where(_seals_of(org_id), AuditSeal.position == position)
    return (await session.scalars(query)).first()


async def count_unsealed(session: AsyncSession, org_id: uuid.UUID | None) -> int:
    query = select(func.count()).select_from(AuditEntry).where(_entries_of(org_id), ~_is_sealed())
    return int((await session.execute(query)).scalar_one())


async def add_checkpoint(
    session: AsyncSession, org_id: uuid.UUID | None, *, chain: str, position: int, hash: str, signed: str
) -> None:
    session.add(AuditCheckpoint(org_id=org_id, chain=chain, position=position, hash=hash, signed=signed))
    await session.flush()


def _checkpoints_of(org_id: uuid.UUID | None) -> ColumnElement[bool]:
    return AuditCheckpoint.org_id.is_(None) if org_id is None else AuditCheckpoint.org_id == org_id


async def latest_checkpoint(session: AsyncSession, org_id: uuid.UUID | None) -> AuditCheckpoint | None:
    query = select(AuditCheckpoint).where(_checkpoints_of(org_id)).order_by(AuditCheckpoint.position.desc())
    return (await session.scalars(query.limit(1))).first()


async def checkpoints(session: AsyncSession, org_id: uuid.UUID | None) -> Sequence[AuditCheckpoint]:
    query = select(AuditCheckpoint).where(_checkpoints_of(org_id)).order_by(AuditCheckpoint.position)
    return (await session.scalars(query)).all()


async def pruned_up_to(session: AsyncSession, org_id: uuid.UUID | None) -> int:
    """The highest seq a retention run has covered (0 if none)."""
    match = AuditRetention.org_id.is_(None) if org_id is None else AuditRetention.org_id == org_id
    return int(
        (
            await session.execute(select(func.coalesce(func.max(AuditRetention.up_to_seq), 0)).where(match))
        ).scalar_one()
    )


async def last_sealed_before(
    session: AsyncSession, org_id: uuid.UUID | None, before: datetime
) -> tuple[int, int]:
    """(highest seq, count) of present, sealed entries that occurred before ``before``."""
    query = select(func.coalesce(func.max(AuditEntry.seq), 0), func.count()).where(
        _entries_of(org_id), AuditEntry.occurred_at < before, _is_sealed()
    )
    row = (await session.execute(query)).one()
    return int(row[0]), int(row[1])


async def record_retention(
    session: AsyncSession,
    org_id: uuid.UUID | None,
    *,
    chain: str,
    up_to_seq: int,
    before: datetime,
    removed: int,
) -> None:
    session.add(
        AuditRetention(org_id=org_id, chain=chain, up_to_seq=up_to_seq, before=before, removed=removed)
    )
    await session.flush()


async def delete_sealed_up_to(
    session: AsyncSession, org_id: uuid.UUID | None, up_to_seq: int, before: datetime
) -> int:
    """Delete sealed entries up to ``up_to_seq`` that occurred before ``before`` (retention only)."""
    result = await session.execute(
        delete(AuditEntry).where(
            and_(
                _entries_of(org_id),
                AuditEntry.seq <= up_to_seq,
                AuditEntry.occurred_at < before,
                _is_sealed(),
            )
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def unsealed_backlog(session: AsyncSession, org_id: uuid.UUID | None) -> tuple[int, datetime | None]:
    """How many entries after the chain's head wait for the sealer, and when the oldest occurred.

    Reads only the range after the head (by ``seq``, each checked against the seal index), so
    its cost follows the lag, not the chain's length.
    """
    last = await head(session, org_id)
    query = select(func.count(), func.min(AuditEntry.occurred_at)).where(
        _entries_of(org_id), AuditEntry.seq > (last.seq if last else 0), ~_is_sealed()
    )
    count, oldest = (await session.execute(query)).one()
    return int(count), oldest
