"""An org's own wording of its messages (issue 11 item 7): one org's rows only."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import MessageTemplate


async def all_of(session: AsyncSession, org_id: uuid.UUID) -> dict[tuple[str, str, str], str]:
    """Every override of the org: (template, locale, part) → body."""
    rows = await session.scalars(select(MessageTemplate).where(MessageTemplate.org_id == org_id))
    return {(row.template, row.locale, row.part): row.body for row in rows}


async def put(
    session: AsyncSession, org_id: uuid.UUID, template: str, locale: str, part: str, body: str, now: datetime
) -> None:
    """Set one part's override (replacing any earlier one)."""
    await remove(session, org_id, template, locale, part)
    session.add(
        MessageTemplate(org_id=org_id, template=template, locale=locale, part=part, body=body, updated_at=now)
    )
    await session.flush()


async def remove(session: AsyncSession, org_id: uuid.UUID, template: str, locale: str, part: str) -> bool:
    """Drop one part's override; False if there was none."""
    result = await session.execute(
        delete(MessageTemplate).where(
            MessageTemplate.org_id == org_id,
            MessageTemplate.template == template,
            MessageTemplate.locale == locale,
            MessageTemplate.part == part,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
