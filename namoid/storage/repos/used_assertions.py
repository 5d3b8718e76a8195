"""Client-assertion ``jti`` values already seen (RFC 7523 §3: a JWT used once)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import UsedAssertion
from namoid.storage.repos import rows


async def record(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, jti: str, expires_at: datetime
) -> bool:
    """Remember ``jti`` for the client until ``expires_at``; False if it was already seen.

    ``ON CONFLICT DO NOTHING`` on the unique (org, client, jti) key: no aborted transaction
    on PostgreSQL, and of two concurrent uses exactly one inserts.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(UsedAssertion)
        .values(id=uuid.uuid4(), org_id=org_id, client_id=client_id, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["org_id", "client_id", "jti"])
        .returning(UsedAssertion.id)
    )
    return await session.scalar(statement) is not None


async def delete_expired(session: AsyncSession, org_id: uuid.UUID, before: datetime) -> int:
    """The sweep: forget ``jti`` values whose assertion expired before ``before`` (an expired
    assertion is refused anyway); returns how many."""
    return await rows.delete_stamped_before(session, org_id, before, UsedAssertion.expires_at)
