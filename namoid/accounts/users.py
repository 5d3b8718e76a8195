"""Users: creating them, setting passwords (Argon2id, DESIGN.md §3), disabling and deleting.

Disabling or deleting a user ends everything they hold (``grant_revocation.revoke_user``)
and raises ``user.disabled`` / ``user.deleted``; a disabled or deleted user can no longer
sign in, refresh or use an access token. Deleting is a soft delete (status ``deleted``,
``deleted_at``, ``deletion_reason``, and ``purge_at``: now plus the org's erasure grace);
the row stays until the worker purges it (namoid.privacy.erasure, which also revokes the
upstream provider tokens).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import anyio
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, events
from namoid.conflicts import StateConflict
from namoid.crypto.passwords import hash_password
from namoid.kyc import service as kyc
from namoid.oauth import grant_revocation
from namoid.storage.db import Database
from namoid.storage.models import User, utcnow
from namoid.storage.repos import organizations, users

# A pragmatic addr-spec check (RFC 5321 §4.5.3.1 lengths); ownership is proven by verification.
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
MIN_PASSWORD = 8  # NIST SP 800-63B §3.1.1.2
MAX_PASSWORD = 1024
MAX_REASON = 200  # users.deletion_reason
MAX_SEARCH = 200

#: Which user: their email address (CLI) or their id (admin API).
UserRef = str | uuid.UUID


class UserExists(StateConflict):
    pass


def normalize_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValueError(f"invalid email address {email!r}")
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}".lower()


def validate_phone(phone: str) -> str:
    if not _E164.match(phone):
        raise ValueError(f"invalid phone number {phone!r}: use E.164, e.g. +919812345678")
    return phone


def validate_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters")
    return password


async def create(
    db: Database,
    org_id: uuid.UUID,
    *,
    email: str,
    password: str | None,
    phone: str | None,
    name: str | None,
    actor: audit.Actor,
    phone_verified: bool = False,
) -> User:
    """A new account. Its email and phone are unverified until a code comes back, unless the
    admin vouches for the phone (``phone_verified``: checked elsewhere, audited as attested)."""
    email = normalize_email(email)
    phone = validate_phone(phone) if phone else None
    if phone_verified and phone is None:
        raise ValueError("--phone-verified needs a --phone")
    if name is not None and not 0 < len(name.strip()) <= 200:
        raise ValueError("name must be 1-200 characters")
    password_hash = (
        await anyio.to_thread.run_sync(hash_password, validate_password(password)) if password else None
    )
    try:
        async with db.tenant(org_id) as session:
            return await create_in(
                session,
                org_id,
                email=email,
                password_hash=password_hash,
                phone=phone,
                name=name.strip() if name else None,
                actor=actor,
                phone_verified=phone_verified,
            )
    except IntegrityError as exc:
        raise UserExists(f"a user with email {email!r} already exists in this organization") from exc


async def create_in(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    email: str,
    password_hash: str | None,
    phone: str | None,
    name: str | None,
    actor: audit.Actor,
    phone_verified: bool = False,
) -> User:
    """The account row and its audit entry, in the caller's transaction (input validated by
    ``create``, or ``email`` normalized and the rest None by a caller that builds more around it)."""
    if await users.get_by_email(session, org_id, email) is not None:
        raise UserExists(f"a user with email {email!r} already exists in this organization")
    user = await users.create(
        session,
        org_id,
        email=email,
        password_hash=password_hash,
        phone=phone,
        name=name,
        phone_verified=phone_verified,
    )
    await audit.record(
        session,
        org_id,
        actor=actor,
        action="user.created",
        target_type="user",
        target_id=str(user.id),
        detail={"phone_verified": "attested"} if phone_verified else None,
    )
    return user


async def set_password(
    db: Database, org_id: uuid.UUID, email: str, password: str, actor: audit.Actor
) -> User:
    password_hash = await anyio.to_thread.run_sync(hash_password, validate_password(password))
    async with db.tenant(org_id) as session:
        user = await users.get_by_email(session, org_id, normalize_email(email))
        if user is None:
            raise LookupError(f"no user {email!r} in this organization")
        await users.set_password_hash(session, org_id, user.id, password_hash)
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="user.password_set",
            target_type="user",
            target_id=str(user.id),
        )
    return user


MAX_NAME = 200  # users.name


def validate_name(name: str) -> str:
    """A display name: 1-200 printable characters, trimmed (OIDC Core §5.1 ``name``)."""
    name = " ".join(name.split())
    if not 0 < len(name) <= MAX_NAME or not name.isprintable():
        raise ValueError(f"name must be 1-{MAX_NAME} printable characters")
    return name


async def set_name(db: Database, org_id: uuid.UUID, user_id: uuid.UUID, name: str, actor: audit.Actor) -> str:
    """Change the user's name (ValueError if it is not acceptable); audited ``user.name_changed``."""
    name = validate_name(name)
    async with db.tenant(org_id) as session:
        await users.set_name(session, org_id, user_id, name)
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="user.name_changed",
            target_type="user",
            target_id=str(user_id),
        )
    return name


async def change_password(
    db: Database, org_id: uuid.UUID, user_id: uuid.UUID, password: str, *, keep_sid: str, now: datetime
) -> grant_revocation.Revoked:
    """The user's own password change (account console, after a fresh sign-in).

    As a reset (``accounts.codes.reset_password``) it ends every refresh family, access token
    and browser session of the user (``grant_revocation.revoke_user``), except the session
    ``keep_sid`` it was made in; raises ``password.changed`` (CAEP credential-change).
    ValueError if the password is not acceptable; nothing changes then.
    """
    password_hash = await anyio.to_thread.run_sync(hash_password, validate_password(password))
    actor = audit.Actor("user", str(user_id))
    async with db.tenant(org_id) as session:
        await users.set_password_hash(session, org_id, user_id, password_hash)
        revoked = await grant_revocation.revoke_user(
            session, org_id, user_id, now, actor=actor, reason="password_changed", keep_sid=keep_sid
        )
        await events.raise_event(
            session,
            org_id,
            "password.changed",
            actor=actor,
            subject=events.user_subject(user_id),
            target_type="user",
            target_id=str(user_id),
            detail={
                "credential_type": "password",
                "change_type": "update",
                "families_revoked": revoked.families,
                "sessions_ended": revoked.sessions,
            },
        )
    return revoked


async def list_active(db: Database, org_id: uuid.UUID) -> Sequence[User]:
    async with db.tenant(org_id) as session:
        return await users.list_active(session, org_id)


async def search(
    db: Database, org_id: uuid.UUID, text: str | None, *, after: str | None, limit: int
) -> Sequence[User]:
    """Live users whose email or name contains ``text`` (case-insensitive), by email, after ``after``."""
    if text is not None and len(text) > MAX_SEARCH:
        raise ValueError(f"search text must be at most {MAX_SEARCH} characters")
    async with db.tenant(org_id) as session:
        return await users.search(session, org_id, text.lower() if text else None, after=after, limit=limit)


async def get(db: Database, org_id: uuid.UUID, who: UserRef) -> User:
    """A live (not deleted) user; LookupError if there is none."""
    async with db.tenant(org_id) as session:
        return await require_in(session, org_id, who)


def validate_reason(reason: str | None) -> str | None:
    """An optional free-text reason: 1-200 printable characters, or None."""
    if reason is None:
        return None
    reason = reason.strip()
    if not 0 < len(reason) <= MAX_REASON or not reason.isprintable():
        raise ValueError(f"reason must be 1-{MAX_REASON} printable characters")
    return reason


async def require_in(session: AsyncSession, org_id: uuid.UUID, who: UserRef) -> User:
    if isinstance(who, uuid.UUID):
        user = await users.get(session, org_id, who)
        user = None if user is None or user.deleted_at is not None else user
    else:
        user = await users.get_by_email(session, org_id, normalize_email(who))
    if user is None:
        raise LookupError(f"no user {str(who)!r} in this organization")
    return user


async def disable(
    db: Database, org_id: uuid.UUID, who: UserRef, actor: audit.Actor, reason: str | None = None
) -> User:
    """Disable an active user and end everything they hold; raises ``user.disabled``."""
    reason = validate_reason(reason)
    async with db.tenant(org_id) as session:
        user = await require_in(session, org_id, who)
        if user.status != "active":
            raise StateConflict(f"user {user.email!r} is already {user.status}")
        await users.set_status(session, org_id, user.id, "disabled")
        await _end_everything(session, org_id, user, actor, "user.disabled", reason, utcnow())
    return user


async def enable(db: Database, org_id: uuid.UUID, who: UserRef, actor: audit.Actor) -> User:
    """Enable a disabled user (deleted users stay deleted); raises ``user.enabled``."""
    async with db.tenant(org_id) as session:
        user = await require_in(session, org_id, who)
        if user.status != "disabled":
            raise StateConflict(f"user {user.email!r} is not disabled")
        await users.set_status(session, org_id, user.id, "active")
        await events.raise_event(
            session,
            org_id,
            "user.enabled",
            actor=actor,
            subject=events.user_subject(user.id),
            target_type="user",
            target_id=str(user.id),
        )
    return user


async def delete(
    db: Database, org_id: uuid.UUID, who: UserRef, actor: audit.Actor, reason: str | None = None
) -> User:
    """Soft-delete a user, by email or id (active or disabled); see ``soft_delete``."""
    reason = validate_reason(reason)
    async with db.tenant(org_id) as session:
        return await soft_delete(session, org_id, await require_in(session, org_id, who), actor, reason)


async def soft_delete(
    session: AsyncSession, org_id: uuid.UUID, user: User, actor: audit.Actor, reason: str | None
) -> User:
    """Mark ``user`` deleted, purge due after the org's grace, end everything; raises ``user.deleted``.

    One transaction: sign-in is blocked (status), sessions, refresh families and access
    tokens are revoked, the KYC record is erased, and relying parties are told at once
    (RISC account-disabled). The purge itself comes later (``user.purged``).
    """
    now = utcnow()
    org = await organizations.get(session, org_id)
    if org is None:
        raise LookupError("no such organization")
    purge_at = now + timedelta(days=org.erasure_grace_days)
    await users.mark_deleted(session, org_id, user.id, now, reason, purge_at)
    await kyc.erase_in(session, org_id, user.id, actor)  # the KYC record goes with the account
    await _end_everything(
        session, org_id, user, actor, "user.deleted", reason, now, {"purge_at": purge_at.isoformat()}
    )
    return user


async def reset_password(db: Database, org_id: uuid.UUID, who: UserRef, actor: audit.Actor) -> User:
    """An admin's password reset: the password is removed at once and every session, grant and
    token of the user ends (``grant_revocation.revoke_user``), raising ``password.reset``. The
    user sets a new password by the sign-in page's emailed code (``accounts.codes.reset_password``);
    nobody else ever knows it."""
    async with db.tenant(org_id) as session:
        user = await require_in(session, org_id, who)
        if user.status != "active":
            raise StateConflict(f"user {user.email!r} is {user.status}")
        await users.set_password_hash(session, org_id, user.id, None)
        await _end_everything(
            session, org_id, user, actor, "password.reset", None, utcnow(), {"method": "admin"}
        )
    return user


async def revoke_sessions(db: Database, org_id: uuid.UUID, who: UserRef, actor: audit.Actor) -> User:
    """End every session, grant and token the user holds; the account stays as it is."""
    async with db.tenant(org_id) as session:
        user = await require_in(session, org_id, who)
        revoked = await grant_revocation.revoke_user(
            session, org_id, user.id, utcnow(), actor=actor, reason="sessions_revoked"
        )
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="user.sessions_revoked",
            target_type="user",
            target_id=str(user.id),
            detail={
                "families": revoked.families,
                "access_revoked": revoked.access_tokens,
                "sessions_ended": revoked.sessions,
            },
        )
    return user


async def _end_everything(
    session: AsyncSession,
    org_id: uuid.UUID,
    user: User,
    actor: audit.Actor,
    event: str,
    reason: str | None,
    now: datetime,
    extra: dict[str, object] | None = None,
) -> None:
    """Revoke the user's grants and sessions, then raise ``event`` with what was revoked.

    The operator's reason goes out as ``comment``: RISC's own ``reason`` claim of
    account-disabled takes only its defined values.
    """
    revoked = await grant_revocation.revoke_user(
        session, org_id, user.id, now, actor=actor, reason=event.replace(".", "_")
    )
    await events.raise_event(
        session,
        org_id,
        event,
        actor=actor,
        subject=events.user_subject(user.id),
        target_type="user",
        target_id=str(user.id),
        detail={
            "families": revoked.families,
            "access_revoked": revoked.access_tokens,
            "sessions_ended": revoked.sessions,
        }
        | ({"comment": reason} if reason else {})
        | (extra or {}),
    )
