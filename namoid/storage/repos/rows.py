"""Row operations every tenant repo shares: insert into an org, and stamp a row exactly once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import update
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
