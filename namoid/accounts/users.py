"""Creating users and setting passwords (Argon2id, DESIGN.md §3)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

import anyio
from sqlalchemy.exc import IntegrityError

from namoid import audit
from namoid.crypto.passwords import hash_password
from namoid.storage.db import Database
from namoid.storage.models import User
from namoid.storage.repos import users

# A pragmatic addr-spec check (RFC 5321 §4.5.3.1 lengths); ownership is proven by verification.
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
MIN_PASSWORD = 8  # NIST SP 800-63B §3.1.1.2
MAX_PASSWORD = 1024


class UserExists(ValueError):
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
) -> User:
    email = normalize_email(email)
    phone = validate_phone(phone) if phone else None
    if name is not None and not 0 < len(name.strip()) <= 200:
        raise ValueError("name must be 1-200 characters")
    password_hash = (
        await anyio.to_thread.run_sync(hash_password, validate_password(password)) if password else None
    )
    try:
        async with db.tenant(org_id) as session:
            if await users.get_by_email(session, org_id, email) is not None:
                raise UserExists(f"a user with email {email!r} already exists in this organization")
            user = await users.create(
                session,
                org_id,
                email=email,
                password_hash=password_hash,
                phone=phone,
                name=name.strip() if name else None,
            )
            await audit.record(
                session,
                org_id,
                actor=actor,
                action="user.created",
                target_type="user",
                target_id=str(user.id),
            )
    except IntegrityError as exc:
        raise UserExists(f"a user with email {email!r} already exists in this organization") from exc
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


async def list_active(db: Database, org_id: uuid.UUID) -> Sequence[User]:
    async with db.tenant(org_id) as session:
        return await users.list_active(session, org_id)
