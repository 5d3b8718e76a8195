"""The events room's personal data (DESIGN.md §8): security events about the user (RFC 8417).

The same one-year window as the audit entries; the payload carries the request's IP address
and user agent, never a secret (events are audited with the same detail rules).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.privacy.registry import (
    SECURITY_LOG_BASIS,
    STRING,
    TIME,
    DataPrincipal,
    Erasure,
    Json,
    Section,
    array_of,
    iso,
    obj,
)
from namoid.storage.repos import personal_data

WINDOW: Final = timedelta(days=365)


async def _security_events(session: AsyncSession, who: DataPrincipal) -> Json:
    rows = await personal_data.security_events_of_user(session, who.org_id, who.user_id, who.now - WINDOW)
    return [{"event": row.name, "occurred_at": iso(row.occurred_at), "payload": row.payload} for row in rows]


SECURITY_EVENTS: Final = Section(
    name="security_events",
    title="Security events about your account",
    tables=("security_events",),
    schema=array_of(obj(event=STRING, occurred_at=TIME, payload={"type": "object"})),
    export=_security_events,
    erasure=Erasure("retain", legal_basis=SECURITY_LOG_BASIS),
)
