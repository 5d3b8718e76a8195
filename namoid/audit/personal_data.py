"""The audit room's personal data (DESIGN.md §8): one year of the user's own audit entries.

An entry is the user's when the user is its actor or its target. Entries carry no secrets
by construction (``record`` refuses secret-looking detail keys).
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
    nullable,
    obj,
)
from namoid.storage.repos import personal_data

#: How far back the export reaches (the issue: "one year of the user's own audit events").
WINDOW: Final = timedelta(days=365)


async def _audit_events(session: AsyncSession, who: DataPrincipal) -> Json:
    rows = await personal_data.audit_entries_of_user(session, who.org_id, who.user_id, who.now - WINDOW)
    return [
        {
            "occurred_at": iso(row.occurred_at),
            "action": row.action,
            "outcome": row.outcome,
            "actor_type": row.actor_type,
            "actor_id": row.actor_id,
            "target_type": row.target_type,
            "target_id": row.target_id,
            "ip": row.ip,
            "user_agent": row.user_agent,
            "detail": row.detail,
        }
        for row in rows
    ]


AUDIT_EVENTS: Final = Section(
    name="audit_events",
    title="Your activity (one year of audit entries)",
    tables=("audit_log",),
    schema=array_of(
        obj(
            occurred_at=TIME,
            action=STRING,
            outcome=STRING,
            actor_type=STRING,
            actor_id=nullable(STRING),
            target_type=nullable(STRING),
            target_id=nullable(STRING),
            ip=nullable(STRING),
            user_agent=nullable(STRING),
            detail={"type": "object"},
        )
    ),
    export=_audit_events,
    erasure=Erasure("retain", legal_basis=SECURITY_LOG_BASIS),
)
