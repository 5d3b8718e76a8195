"""Users of one organization."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.models import User, utcnow


async def create(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    email: str,
    password_hash: str | None,
    phone: str | None = None,
    name: str | None = None,
    phone_verified: bool = False,
) -> User:
    user = User(
        org_id=org_id,
        email=email,
        email_verified=False,
        phone=phone,
        phone_verified=phone_verified,
        name=name,
        password_hash=password_hash,
        status="active",
    )
    session.add(user)
    await session.flush()
    return user


async def get_by_email(session: AsyncSession, org_id: uuid.UUID, email: str) -> User | None:
    return await session.scalar(
        select(User).where(User.org_id == org_id, User.email == email, User.deleted_at.is_(None))
    )


async def get(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    return await session.scalar(select(User).where(User.org_id == org_id, User.id == user_id))


async def list_active(session: AsyncSession, org_id: uuid.UUID) -> Sequence[User]:
    query = select(User).where(User.org_id == org_id, User.deleted_at.is_(None)).order_by(User.email)
    return (await session.scalars(query)).all()


async def search(
    session: AsyncSession, org_id: uuid.UUID, text: str | None, *, after: str | None, limit: int
) -> Sequence[User]:
    """Live users whose email or name contains ``text`` (lower case), ordered by email, after ``after``."""
    query = select(User).where(User.org_id == org_id, User.deleted_at.is_(None))
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                func.lower(User.email).like(pattern, escape="\\"),
                func.lower(User.name).like(pattern, escape="\\"),
            )
        )
    if after is not None:
        query = query.where(User.email > after)
    return (await session.scalars(query.order_by(User.email).limit(limit))).all()


async def _update(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, values: dict[str, object]
) -> bool:
    """Set ``values`` (column → value) and ``updated_at`` on the user; False if it is not in ``org_id``."""
    user = await get(session, org_id, user_id)
    if user is None:
        return False
    for column, value in values.items():
        setattr(user, column, value)
    user.updated_at = utcnow()
    await session.flush()
    return True


async def set_password_hash(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, password_hash: str | None
) -> bool:
    """The new Argon2id hash, or None: the account has no password until one is set."""
    return await _update(session, org_id, user_id, {"password_hash": password_hash})


async def set_status(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, status: str) -> bool:
    """``active`` or ``disabled``; deleting goes through ``mark_deleted``."""
    return await _update(session, org_id, user_id, {"status": status})


async def mark_deleted(
    session: AsyncSession,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    reason: str | None,
    purge_at: datetime,
) -> bool:
    """Soft delete: status ``deleted`` with the time, reason and purge time; the row stays."""
    values: dict[str, object] = {
        "status": "deleted",
        "deleted_at": now,
        "deletion_reason": reason,
        "purge_at": purge_at,
    }
    return await _update(session, org_id, user_id, values)


async def hold_active(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    """The user if active, held so until the transaction ends; None if disabled, deleted or gone.

    On PostgreSQL the row is read FOR SHARE (fresh, after any lock wait): a delete or disable
    that came first is waited for and seen, one that comes later waits for this transaction
    and then revokes what it created. SQLite has one writer at a time.
    """
    user = await session.scalar(
        select(User)
        .where(User.org_id == org_id, User.id == user_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return user if user is not None and user.status == "active" and user.deleted_at is None else None


async def due_for_purge(
    session: AsyncSession, org_id: uuid.UUID, now: datetime, limit: int
) -> list[uuid.UUID]:
    """Ids of deleted users whose purge time has come, oldest first."""
    query = (
        select(User.id)
        .where(User.org_id == org_id, User.status == "deleted", User.purge_at <= now)
        .order_by(User.purge_at)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def claim_for_purge(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> bool:
    """Mark a due deleted user ``purging`` (one conditional UPDATE); False if another got it first.

    A second worker's UPDATE of the same row waits for the first transaction, then finds the
    row gone (or, if that one rolled back, still ``deleted`` and claims it itself).
    """
    result = await session.execute(
        update(User)
        .where(User.org_id == org_id, User.id == user_id, User.status == "deleted", User.purge_at <= now)
        .values(status="purging")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Delete the user row (the purge, once every row referring to it is gone)."""
    await session.execute(delete(User).where(User.org_id == org_id, User.id == user_id))


async def get_by_phone(session: AsyncSession, org_id: uuid.UUID, phone: str) -> User | None:
    """The one live user with this E.164 number; None if there is none, or more than one."""
    query = select(User).where(User.org_id == org_id, User.phone == phone, User.deleted_at.is_(None)).limit(2)
    found = (await session.scalars(query)).all()
    return found[0] if len(found) == 1 else None


async def mark_verified(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, column: str) -> bool:
    """``email_verified`` or ``phone_verified`` := true (only a returned code calls this)."""
    if column not in ("email_verified", "phone_verified"):
        raise ValueError(f"not a verification flag: {column}")
    return await _update(session, org_id, user_id, {column: True})


async def contact_in_use(
    session: AsyncSession, org_id: uuid.UUID, column: str, value: str, except_user: uuid.UUID | None = None
) -> bool:
    """Whether an account other than ``except_user`` (disabled and deleted ones too, until purged)
    has ``value`` as its email or phone."""
    if column not in ("email", "phone"):
        raise ValueError(f"not a contact column: {column}")
    query = select(User.id).where(User.org_id == org_id, getattr(User, column) == value)
    if except_user is not None:
        query = query.where(User.id != except_user)
    return (await session.scalar(query.limit(1))) is not None


async def set_verified_contact(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, column: str, value: str
) -> bool:
    """Replace the user's email or phone with ``value``, verified (only a returned code calls this)."""
    if column not in ("email", "phone"):
        raise ValueError(f"not a contact column: {column}")
    return await _update(session, org_id, user_id, {column: value, f"{column}_verified": True})


async def set_name(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, name: str) -> bool:
    return await _update(session, org_id, user_id, {"name": name})
