"""Tombstones of purged accounts are append-only in the database itself (issue 13), like the audit log."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.exc import DBAPIError

from namoid import audit
from namoid.accounts import users
from namoid.privacy import erasure, purge
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import utcnow
from namoid.tenancy import organizations
from tests.conftest import POSTGRES_ONLY, Backend

ADMIN = audit.Actor("admin", "test")
TAMPERING = [
    "UPDATE tombstones SET email_mac = 'x' WHERE org_id = :org",
    "DELETE FROM tombstones WHERE org_id = :org",
]


@pytest.fixture
async def org_id(services: Services) -> uuid.UUID:
    """An org with one purged account, hence one tombstone."""
    org = await organizations.create(services.db, services.keyring, f"ts-{uuid.uuid4().hex[:8]}", None, ADMIN)
    await erasure.set_grace(services.db, org.slug, 0, ADMIN)
    user = await users.create(
        services.db, org.id, email="gone@example.com", password=None, phone=None, name=None, actor=ADMIN
    )
    await erasure.delete_account(services, org.id, user.id, ADMIN)
    assert await purge.purge_user(services, org.id, user.id, utcnow() + timedelta(seconds=1)) is not None
    return org.id


async def _count(db: Database, org_id: uuid.UUID) -> int:
    async with db.tenant(org_id) as session:
        return int(await session.scalar(text("SELECT count(*) FROM tombstones")) or 0)


@pytest.mark.parametrize("statement", TAMPERING)
async def test_app_role_cannot_change_tombstones(
    services: Services, org_id: uuid.UUID, statement: str
) -> None:
    with pytest.raises(DBAPIError, match=r"append-only|permission denied"):
        async with services.db.tenant(org_id) as session:
            await session.execute(text(statement).bindparams(bindparam("org", type_=Uuid)), {"org": org_id})
    assert await _count(services.db, org_id) == 1


@pytest.mark.parametrize("statement", TAMPERING)
async def test_even_the_owner_cannot_change_tombstones(
    owner_db: Database, org_id: uuid.UUID, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        async with owner_db.system() as session:
            await session.execute(text(statement).bindparams(bindparam("org", type_=Uuid)), {"org": org_id})


@POSTGRES_ONLY
async def test_postgres_app_role_may_only_read_and_append(backend: Backend, services: Services) -> None:
    async with services.db.system() as session:
        granted = {
            row[0]
            for row in await session.execute(
                text(
                    "SELECT privilege_type FROM information_schema.role_table_grants "
                    "WHERE table_name = 'tombstones' AND grantee = current_user"
                )
            )
        }
    assert granted == {"SELECT", "INSERT"}
