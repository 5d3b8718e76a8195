"""Row operations every tenant repo shares: insert into an org, stamp a row exactly once, sweep."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from namoid.storage.models import Base

RowT = TypeVar("RowT", bound=Base)


async def insert(session: AsyncSession, org_id: uuid.UUID, row: RowT) -> RowT:
    """Add ``row`` to ``org_id`` (its org is set here, never by the caller) and flush it."""
    row.org_id = org_id  # type: ignore[attr-defined]
    session.add(row)
    await session.flush()
    return row


async def stamp_once(
    session: AsyncSession,
    org_id: uuid.UUID,
    key: InstrumentedAttribute[Any],
    value: object,
    stamp: InstrumentedAttribute[Any],
    now: datetime,
    **also: object,
) -> bool:
    """Set ``stamp`` to ``now`` on the row whose ``key`` is ``value`` unless it is already set.

    One UPDATE ... WHERE stamp IS NULL: of two concurrent callers exactly one gets True
    (single-use codes, token rotation, ending a session).
    """
    model: Any = key.class_
    result = await session.execute(
        update(model)
        .where(model.org_id == org_id, key == value, stamp.is_(None))
        .values({stamp.key: now, **also})
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_stamped_before(
    session: AsyncSession, org_id: uuid.UUID, before: datetime, *stamps: InstrumentedAttribute[Any]
) -> int:
    """Delete the org's rows (of the stamps' table) where any of ``stamps`` is before ``before``.

    The expiry sweeps' one DELETE; returns how many rows went.
    """
    model: Any = stamps[0].class_
    result = await session.execute(
        delete(model).where(model.org_id == org_id, or_(*(stamp < before for stamp in stamps)))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
