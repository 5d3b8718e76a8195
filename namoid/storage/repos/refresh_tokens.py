"""Refresh-token families and their tokens (DESIGN.md §3): opaque tokens stored as SHA-256."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import Client, RefreshFamily, RefreshToken
from namoid.storage.repos import rows


async def start_family(session: AsyncSession, org_id: uuid.UUID, family: RefreshFamily) -> RefreshFamily:
    return await rows.insert(session, org_id, family)


async def add(
    session: AsyncSession, org_id: uuid.UUID, family_id: uuid.UUID, token_hash: str, expires_at: datetime
) -> RefreshToken:
    return await rows.insert(
        session, org_id, RefreshToken(family_id=family_id, token_hash=token_hash, expires_at=expires_at)
    )


async def find(
    session: AsyncSession, org_id: uuid.UUID, token_hash: str
) -> tuple[RefreshToken, RefreshFamily] | None:
    """The token with this hash and its family, both in ``org_id``."""
    row = (
        await session.execute(
            select(RefreshToken, RefreshFamily)
            .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
            .where(
                RefreshToken.org_id == org_id,
                RefreshFamily.org_id == org_id,
                RefreshToken.token_hash == token_hash,
            )
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def consume(session: AsyncSession, org_id: uuid.UUID, token_id: uuid.UUID, now: datetime) -> bool:
    """Mark the token used; False if it already was (one UPDATE: exactly one of two uses wins)."""
    return await rows.stamp_once(session, org_id, RefreshToken.id, token_id, RefreshToken.used_at, now)


async def keep_successor(
    session: AsyncSession, org_id: uuid.UUID, token_id: uuid.UUID, envelope: str, until: datetime
) -> None:
    """Store the consumed token's successor response (already encrypted) until ``until``."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.org_id == org_id, RefreshToken.id == token_id)
        .values(successor_enc=envelope, successor_expires_at=until)
    )


async def successor(
    session: AsyncSession, org_id: uuid.UUID, token_id: uuid.UUID, now: datetime
) -> tuple[str, datetime] | None:
    """The consumed token's encrypted successor response and the time of its first use, while
    its window is open and its family unrevoked; None otherwise.

    Read as columns, not as the token object: a request that lost the consuming UPDATE must see
    what the winner committed, not the token it loaded before.
    """
    row = (
        await session.execute(
            select(RefreshToken.successor_enc, RefreshToken.used_at)
            .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
            .where(
                RefreshToken.org_id == org_id,
                RefreshFamily.org_id == org_id,
                RefreshToken.id == token_id,
                RefreshToken.successor_expires_at > now,
                RefreshFamily.revoked_at.is_(None),
            )
        )
    ).one_or_none()
    if row is None or row[0] is None or row[1] is None:
        return None
    return row[0], row[1]


async def sealed_successors(session: AsyncSession, org_id: uuid.UUID) -> Sequence[tuple[uuid.UUID, str]]:
    """(token id, envelope) of every successor response still stored (key rotation rewrites them)."""
    rows = await session.execute(
        select(RefreshToken.id, RefreshToken.successor_enc).where(
            RefreshToken.org_id == org_id, RefreshToken.successor_enc.is_not(None)
        )
    )
    return [(token_id, envelope) for token_id, envelope in rows if envelope is not None]


async def reseal_successor(
    session: AsyncSession, org_id: uuid.UUID, token_id: uuid.UUID, envelope: str
) -> None:
    """Replace a stored successor response by its re-encryption, unless it was destroyed meanwhile."""
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.org_id == org_id,
            RefreshToken.id == token_id,
            RefreshToken.successor_enc.is_not(None),
        )
        .values(successor_enc=envelope)
    )


async def forget_successors(session: AsyncSession, org_id: uuid.UUID, now: datetime) -> int:
    """The sweep: destroy the successor responses whose window closed by ``now``; returns how many."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.org_id == org_id, RefreshToken.successor_expires_at <= now)
        .values(successor_enc=None, successor_expires_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def revoke_family(
    session: AsyncSession, org_id: uuid.UUID, family_id: uuid.UUID, now: datetime, reason: str
) -> bool:
    """Revoke a family (all its tokens die with it); False if it already was."""
    return await rows.stamp_once(
        session, org_id, RefreshFamily.id, family_id, RefreshFamily.revoked_at, now, revoked_reason=reason
    )


async def _revoke_families_where(
    session: AsyncSession, org_id: uuid.UUID, condition: ColumnElement[bool], now: datetime, reason: str
) -> Sequence[uuid.UUID]:
    """Revoke the org's live families matching ``condition``; returns the ids this call revoked."""
    result = await session.scalars(
        update(RefreshFamily)
        .where(RefreshFamily.org_id == org_id, RefreshFamily.revoked_at.is_(None), condition)
        .values(revoked_at=now, revoked_reason=reason)
        .returning(RefreshFamily.id)
    )
    return result.all()


async def revoke_families_of_code(
    session: AsyncSession, org_id: uuid.UUID, code_id: uuid.UUID, now: datetime, reason: str
) -> Sequence[uuid.UUID]:
    """Revoke the families an authorization code started; returns their ids."""
    return await _revoke_families_where(session, org_id, RefreshFamily.code_id == code_id, now, reason)


async def revoke_families_of_user(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, now: datetime, reason: str
) -> Sequence[uuid.UUID]:
    """Revoke every live family of a user, whichever client holds it; returns their ids."""
    return await _revoke_families_where(session, org_id, RefreshFamily.user_id == user_id, now, reason)


async def revoke_families_of_user_at_client(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, client_id: str, now: datetime, reason: str
) -> Sequence[uuid.UUID]:
    """Revoke the user's live families held by one client; returns their ids."""
    condition = and_(RefreshFamily.user_id == user_id, RefreshFamily.client_id == client_id)
    return await _revoke_families_where(session, org_id, condition, now, reason)


async def revoke_families_of_client(
    session: AsyncSession, org_id: uuid.UUID, client_id: str, now: datetime, reason: str
) -> Sequence[uuid.UUID]:
    """Revoke every live family issued to a client; returns their ids."""
    return await _revoke_families_where(session, org_id, RefreshFamily.client_id == client_id, now, reason)


async def revoke_families(
    session: AsyncSession, org_id: uuid.UUID, family_ids: Sequence[uuid.UUID], now: datetime, reason: str
) -> Sequence[uuid.UUID]:
    """Revoke the given families unless already revoked; returns the ids this call revoked."""
    if not family_ids:
        return []
    return await _revoke_families_where(session, org_id, RefreshFamily.id.in_(family_ids), now, reason)


async def live_families_of_session(
    session: AsyncSession, org_id: uuid.UUID, sid: str
) -> Sequence[tuple[RefreshFamily, str]]:
    """The unrevoked families authorized in browser session ``sid``, each with its client's
    ``offline_access_on_logout`` policy."""
    rows = await session.execute(
        select(RefreshFamily, Client.offline_access_on_logout)
        .join(
            Client, and_(Client.org_id == RefreshFamily.org_id, Client.client_id == RefreshFamily.client_id)
        )
        .where(RefreshFamily.org_id == org_id, RefreshFamily.sid == sid, RefreshFamily.revoked_at.is_(None))
    )
    return [(family, policy) for family, policy in rows]


async def delete_ended(session: AsyncSession, org_id: uuid.UUID, before: datetime) -> tuple[int, int]:
    """The sweep: delete families that expired or were revoked before ``before``, with all their
    tokens, and unused tokens that idle-expired before it. Used tokens of live families stay:
    they are how a replay is recognised (DESIGN.md §3). Returns (tokens, families) deleted."""
    ended = or_(RefreshFamily.expires_at < before, RefreshFamily.revoked_at < before)
    ended_families = select(RefreshFamily.id).where(RefreshFamily.org_id == org_id, ended)
    idle = and_(RefreshToken.used_at.is_(None), RefreshToken.expires_at < before)
    tokens = await session.execute(
        delete(RefreshToken).where(
            RefreshToken.org_id == org_id, or_(RefreshToken.family_id.in_(ended_families), idle)
        )
    )
    families = await session.execute(delete(RefreshFamily).where(RefreshFamily.org_id == org_id, ended))
    return int(tokens.rowcount), int(families.rowcount)  # type: ignore[attr-defined]


async def move_to_session(session: AsyncSession, org_id: uuid.UUID, old_sid: str, new_sid: str) -> int:
    """Rebind the live families of browser session ``old_sid`` to ``new_sid``; returns how many."""
    result = await session.execute(
        update(RefreshFamily)
        .where(
            RefreshFamily.org_id == org_id, RefreshFamily.sid == old_sid, RefreshFamily.revoked_at.is_(None)
        )
        .values(sid=new_sid)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
