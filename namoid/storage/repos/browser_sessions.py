"""Browser sessions: server-side, found by the SHA-256 of the cookie token (DESIGN.md §7)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import BrowserSession
from namoid.storage.repos import rows


async def add(session: AsyncSession, org_id: uuid.UUID, row: BrowserSession) -> BrowserSession:
    return await rows.insert(session, org_id, row)


async def _find_live(
    session: AsyncSession, org_id: uuid.UUID, match: ColumnElement[bool], now: datetime
) -> BrowserSession | None:
    return await session.scalar(
        select(BrowserSession).where(
            BrowserSession.org_id == org_id,
            match,
            BrowserSession.ended_at.is_(None),
            BrowserSession.expires_at > now,
        )
    )


async def find_live(
    session: AsyncSession, org_id: uuid.UUID, token_hash: str, now: datetime
) -> BrowserSession | None:
    """The session behind a cookie, unless it ended or expired."""
    return await _find_live(session, org_id, BrowserSession.token_hash == token_hash, now)


async def hold_live(session: AsyncSession, org_id: uuid.UUID, sid: str, now: datetime) -> bool:
    """Whether session ``sid`` is live, holding it so until the transaction ends.

    On PostgreSQL the row is read FOR SHARE: a logout (or a sign-in replacing the session)
    waits for this transaction, then sees what it bound to the session; one that came first
    is waited for and seen ended. SQLite has one writer, so a caller that has written already
    holds the database.
    """
    found = await session.scalar(
        select(BrowserSession.id)
        .where(
            BrowserSession.org_id == org_id,
            BrowserSession.sid == sid,
            BrowserSession.ended_at.is_(None),
            BrowserSession.expires_at > now,
        )
        .with_for_update(read=True)
    )
    return found is not None


async def end(session: AsyncSession, org_id: uuid.UUID, session_id: uuid.UUID, now: datetime) -> bool:
    """Mark the session ended; False if it already was."""
    return await rows.stamp_once(session, org_id, BrowserSession.id, session_id, BrowserSession.ended_at, now)


async def end_for_user(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, now: datetime, keep_sid: str | None = None
) -> int:
    """End every live session of a user, except ``keep_sid`` if given; returns how many."""
    query = update(BrowserSession).where(
        BrowserSession.org_id == org_id,
        BrowserSession.user_id == user_id,
        BrowserSession.ended_at.is_(None),
    )
    if keep_sid is not None:
        query = query.where(BrowserSession.sid != keep_sid)
    result = await session.execute(query.values(ended_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_ended(session: AsyncSession, org_id: uuid.UUID, before: datetime) -> int:
    """The sweep: delete sessions that expired or ended before ``before``; returns how many."""
    return await rows.delete_stamped_before(
        session, org_id, before, BrowserSession.expires_at, BrowserSession.ended_at
    )


async def find_live_by_sid(
    session: AsyncSession, org_id: uuid.UUID, sid: str, now: datetime
) -> BrowserSession | None:
    """The session with ``sid``, unless it ended or expired (a provider trip records the sid)."""
    return await _find_live(session, org_id, BrowserSession.sid == sid, now)


async def live_of_user(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> Sequence[BrowserSession]:
    """The user's live sessions, the most recent sign-in first."""
    query = (
        select(BrowserSession)
        .where(
            BrowserSession.org_id == org_id,
            BrowserSession.user_id == user_id,
            BrowserSession.ended_at.is_(None),
            BrowserSession.expires_at > now,
        )
        .order_by(BrowserSession.auth_time.desc(), BrowserSession.created_at.desc())
    )
    return (await session.scalars(query)).all()
