"""The consent ledger is append-only in the database itself (DESIGN.md §8), like the audit log."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import TextClause

from namoid import audit
from namoid.privacy import consent_ledger, notices
from namoid.services import Services
from namoid.storage.db import Database
from namoid.tenancy import organizations
from tests.conftest import POSTGRES_ONLY, Backend

ADMIN = audit.Actor("admin", "test")
TAMPERING = [
    "UPDATE consent_records SET scopes = '[]' WHERE org_id = :org",
    "UPDATE consent_records SET event = 'granted' WHERE org_id = :org",
    # The columns added for relying-party grants (migration 0011) are covered alike.
    "UPDATE consent_records SET claims = '[]' WHERE org_id = :org",
    "UPDATE consent_records SET notice_hash = NULL, language = 'hi' WHERE org_id = :org",
    "UPDATE consent_records SET action = 'clicked_allow' WHERE org_id = :org",
    # So is the notice a grant points to.
    "UPDATE notices SET body = 'changed' WHERE org_id = :org",
    "DELETE FROM notices WHERE org_id = :org",
    "DELETE FROM consent_records WHERE org_id = :org",
]


@pytest.fixture
async def org_id(services: Services) -> uuid.UUID:
    """An org whose ledger holds a grant and its withdrawal."""
    org = await organizations.create(services.db, services.keyring, f"cl-{uuid.uuid4().hex[:8]}", None, ADMIN)
    consent_id = uuid.uuid4()
    async with services.db.tenant(org.id) as session:
        await consent_ledger.record_grant(
            session,
            org.id,
            consent_id=consent_id,
            kind="provider_connection",
            user_id=uuid.uuid4(),
            counterparty="upstream",
            purposes=["sign_in"],
            scopes=["openid"],
            notice_version="n-1",
            action="clicked_allow",
            claims=["sub"],
            notice_hash="0" * 64,
            language="en",
        )
        assert await consent_ledger.record_withdrawal(session, org.id, consent_id, by="user") is not None
    await notices.publish(services.db, org.id, "en", b"A notice.", ADMIN)
    return org.id


def _raw(statement: str) -> TextClause:
    return text(statement).bindparams(bindparam("org", type_=Uuid))


async def _events(services: Services, org_id: uuid.UUID) -> list[str]:
    return [r.event for r in await consent_ledger.list_records(services.db, org_id)]


@pytest.mark.parametrize("statement", TAMPERING)
async def test_app_role_cannot_change_consent_records(
    services: Services, org_id: uuid.UUID, statement: str
) -> None:
    with pytest.raises(DBAPIError, match=r"append-only|permission denied"):
        async with services.db.tenant(org_id) as session:
            await session.execute(_raw(statement), {"org": org_id})
    assert await _events(services, org_id) == ["granted", "withdrawn"]
    async with services.db.tenant(org_id) as session:
        assert (await notices.current(session, org_id, "en")).body == "A notice."


@pytest.mark.parametrize("statement", TAMPERING)
async def test_even_the_owner_cannot_change_consent_records(
    owner_db: Database, org_id: uuid.UUID, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        async with owner_db.system() as session:
            await session.execute(_raw(statement), {"org": org_id})


@POSTGRES_ONLY
@pytest.mark.parametrize("table", ["consent_records", "notices"])
async def test_postgres_app_role_may_only_read_and_append(
    backend: Backend, services: Services, table: str
) -> None:
    async with services.db.system() as session:
        granted = {
            row[0]
            for row in await session.execute(
                text(
                    "SELECT privilege_type FROM information_schema.role_table_grants "
                    "WHERE table_name = :table AND grantee = current_user"
                ),
                {"table": table},
            )
        }
    assert granted == {"SELECT", "INSERT"}
    with pytest.raises(DBAPIError, match=r"permission denied|append-only"):
        async with services.db.system() as session:
            await session.execute(text(f"TRUNCATE {table}"))


async def test_a_withdrawal_needs_a_standing_grant(services: Services, org_id: uuid.UUID) -> None:
    records = await consent_ledger.list_records(services.db, org_id)
    async with services.db.tenant(org_id) as session:
        assert (
            await consent_ledger.record_withdrawal(session, org_id, records[0].consent_id, by="user") is None
        )
        assert await consent_ledger.record_withdrawal(session, org_id, uuid.uuid4(), by="user") is None
    assert await _events(services, org_id) == ["granted", "withdrawn"]
