"""Reading an org's security events back (DESIGN.md §5): filtered, newest first, by position.

The position of an event is ``"<occurred_at ISO 8601>|<id>"``, opaque to callers; the admin API
binds it to the org and the filters (``namoid.admin.cursors``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from namoid.storage.db import Database
from namoid.storage.models import SecurityEvent
from namoid.storage.repos import security_events


@dataclass(frozen=True, slots=True)
class EventFilter:
    name: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def position(event: SecurityEvent) -> str:
    return f"{event.occurred_at.isoformat()}|{event.id}"


def _parse(value: str) -> tuple[datetime, uuid.UUID]:
    """ValueError when ``value`` is not a position made by ``position()``."""
    moment, _, event_id = value.partition("|")
    at = datetime.fromisoformat(moment)
    if at.tzinfo is None:
        raise ValueError("a position carries a time zone")
    return at, uuid.UUID(event_id)


async def page(
    db: Database, org_id: uuid.UUID, wanted: EventFilter, after: str | None, limit: int
) -> list[SecurityEvent]:
    """Up to ``limit`` of ``org_id``'s events matching ``wanted``, after position ``after``."""
    start = None if after is None else _parse(after)
    async with db.tenant(org_id) as session:
        found = await security_events.page(
            session,
            org_id,
            name=wanted.name,
            since=wanted.since,
            until=wanted.until,
            after=start,
            limit=limit,
        )
    return list(found)
