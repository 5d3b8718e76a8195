"""Helpers for audit-chain tests: an org with entries, and raw tampering as an attacker would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import Organization
from tests.features.authorize.conftest import Flow, new_flow
from tests.features.conftest import MakeClient, MakeUser

ADMIN = audit.Actor("admin", "test")


async def write_entries(services: Services, org: Organization, count: int) -> None:
    async with services.db.tenant(org.id) as session:
        for number in range(count):
            await audit.record(
                session,
                org.id,
                actor=ADMIN,
                action="test.happened",
                target_type="thing",
                target_id=str(number),
                detail={"n": number, "note": "ünïcode ✓"},
            )


@pytest.fixture
async def flow(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
) -> Flow:
    """The authorize tests' login flow, with a client that may refresh."""
    grants = ["authorization_code", "refresh_token", "client_credentials"]
    return await new_flow(http, services, org, make_client, make_user, grant_types=grants)


@asynccontextmanager
async def tampering(owner_db: Database) -> AsyncIterator[AsyncSession]:
    """A session past the append-only triggers: what an attacker with the database could do."""
    async with owner_db.system() as session:
        if owner_db.is_postgres:
            await session.execute(text("SET LOCAL session_replication_role = replica"))
            yield session
            return
        for trigger in (
            "audit_log_no_update",
            "audit_log_no_delete",
            "audit_seals_no_update",
            "audit_seals_no_delete",
        ):
            await session.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        yield session


async def seqs(owner_db: Database, org: Organization) -> list[int]:
    async with owner_db.system() as session:
        rows = await session.execute(
            text("SELECT seq FROM audit_log WHERE org_id = :org ORDER BY seq").bindparams(
                bindparam("org", type_=Uuid)
            ),
            {"org": org.id},
        )
        return [row[0] for row in rows]
