"""The audit log is append-only in the database itself (DESIGN.md §5), even through raw SQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import TextClause

from namoid import audit
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.repos import audit_log
from namoid.tenancy import organizations
from tests.conftest import POSTGRES_ONLY, Backend

ADMIN = audit.Actor("admin", "test")


@pytest.fixture
async def org_id(services: Services) -> uuid.UUID:
    org = await organizations.create(services.db, services.keyring, f"ap-{uuid.uuid4().hex[:8]}", None, ADMIN)
    return org.id


TAMPERING = [
    "UPDATE audit_log SET action = 'org.nothing' WHERE org_id = :org",
    "DELETE FROM audit_log WHERE org_id = :org",
]


def _raw(statement: str) -> TextClause:
    return text(statement).bindparams(bindparam("org", type_=Uuid))


@pytest.mark.parametrize("statement", TAMPERING)
async def test_app_role_cannot_change_audit_rows(
    services: Services, org_id: uuid.UUID, statement: str
) -> None:
    with pytest.raises(DBAPIError, match=r"append-only|permission denied"):
        async with services.db.tenant(org_id) as session:
            await session.execute(_raw(statement), {"org": org_id})


@pytest.mark.parametrize("statement", TAMPERING)
async def test_even_the_owner_cannot_change_audit_rows(
    owner_db: Database, org_id: uuid.UUID, statement: str
) -> None:
    """The trigger stops the schema owner (on PostgreSQL a superuser) too."""
    with pytest.raises(DBAPIError, match="append-only"):
        async with owner_db.system() as session:
            await session.execute(_raw(statement), {"org": org_id})


@POSTGRES_ONLY
async def test_postgres_app_role_has_no_update_delete_or_truncate(
    backend: Backend, services: Services
) -> None:
    async with services.db.system() as session:
        granted = {
            row[0]
            for row in await session.execute(
                text(
                    "SELECT privilege_type FROM information_schema.role_table_grants "
                    "WHERE table_name = 'audit_log' AND grantee = current_user"
                )
            )
        }
    assert granted == {"SELECT", "INSERT"}
    with pytest.raises(DBAPIError, match=r"permission denied|append-only"):
        async with services.db.system() as session:
            await session.execute(text("TRUNCATE audit_log"))


async def test_rows_survive_the_attempts(services: Services, org_id: uuid.UUID) -> None:
    async with services.db.tenant(org_id) as session:
        actions = sorted(e.action for e in await audit_log.list_recent(session, org_id))
    assert actions == ["org.created", "signing_key.created"]
