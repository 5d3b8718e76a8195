"""One-time-code challenges: every state change is one conditional UPDATE, so races have one winner."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import OtpChallenge
from namoid.storage.repos import rows


def _live(now: datetime) -> ColumnElement[bool]:
    return and_(
        OtpChallenge.consumed_at.is_(None), OtpChallenge.dead_at.is_(None), OtpChallenge.expires_at > now
    )


async def add(session: AsyncSession, org_id: uuid.UUID, challenge: OtpChallenge) -> OtpChallenge:
    return await rows.insert(session, org_id, challenge)


async def get(session: AsyncSession, org_id: uuid.UUID, challenge_id: uuid.UUID) -> OtpChallenge | None:
    return await session.scalar(
        select(OtpChallenge).where(OtpChallenge.org_id == org_id, OtpChallenge.id == challenge_id)
    )


async def consume(
    session: AsyncSession, org_id: uuid.UUID, challenge_id: uuid.UUID, code_hash: str, now: datetime
) -> bool:
    """Use the challenge if it is live and ``code_hash`` is still its code: of two concurrent
    right answers exactly one gets True."""
    result = await session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.org_id == org_id,
            OtpChallenge.id == challenge_id,
            OtpChallenge.code_hash == code_hash,
            _live(now),
        )
        .values(consumed_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def count_wrong_try(
    session: AsyncSession, org_id: uuid.UUID, challenge_id: uuid.UUID, max_tries: int, now: datetime
) -> int | None:
    """Count a wrong code on a live challenge (the ``max_tries``-th kills it); the count, or None."""
    result = await session.execute(
        update(OtpChallenge)
        .where(OtpChallenge.org_id == org_id, OtpChallenge.id == challenge_id, _live(now))
        .values(
            wrong_tries=OtpChallenge.wrong_tries + 1,
            dead_at=case((OtpChallenge.wrong_tries + 1 >= max_tries, now), else_=None),
        )
        .returning(OtpChallenge.wrong_tries)
    )
    return result.scalar_one_or_none()


async def renew_code(
    session: AsyncSession,
    org_id: uuid.UUID,
    challenge_id: uuid.UUID,
    code_hash: str,
    now: datetime,
    expires_at: datetime,
    sent_before: datetime,
    max_sends: int,
) -> bool:
    """Replace a live challenge's code if it was last sent before ``sent_before`` (the cool-down)
    and fewer than ``max_sends`` codes went out; wrong tries are kept."""
    result = await session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.org_id == org_id,
            OtpChallenge.id == challenge_id,
            _live(now),
            OtpChallenge.last_sent_at <= sent_before,
            OtpChallenge.sends < max_sends,
        )
        .values(code_hash=code_hash, last_sent_at=now, expires_at=expires_at, sends=OtpChallenge.sends + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_expired(session: AsyncSession, org_id: uuid.UUID, before: datetime) -> int:
    """The sweep: challenges that expired before ``before`` (used or not)."""
    return await rows.delete_stamped_before(session, org_id, before, OtpChallenge.expires_at)
