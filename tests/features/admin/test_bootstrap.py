"""``namoid admin bootstrap``: one platform org and its first admin, each step audited (issue 16)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from namoid.accounts import roles
from namoid.admin.bootstrap import bootstrap
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry
from namoid.tenancy.organizations import OrganizationExists
from tests.conftest import ISOLATED, Backend
from tests.features.conftest import ADMIN


@ISOLATED
async def test_bootstrap_creates_the_one_platform_org_and_its_admin(services: Services) -> None:
    with pytest.raises(ValueError, match="invalid email"):
        await bootstrap(services.db, services.keyring, "platform", "not-an-address", ADMIN)
    org, admin = await bootstrap(services.db, services.keyring, "platform", "Root@Example.com", ADMIN)
    assert org.platform and org.slug == "platform" and admin.email == "root@example.com"
    async with services.db.tenant(org.id) as session:
        assert list(await roles.of_user(session, org.id, admin.id)) == ["org_admin"]
        actions = (await session.scalars(select(AuditEntry.action).where(AuditEntry.org_id == org.id))).all()
    assert {"org.created", "user.created", "user.role_granted"} <= set(actions)
    with pytest.raises(OrganizationExists, match="platform organization already exists"):
        await bootstrap(services.db, services.keyring, "platform-2", "other@example.com", ADMIN)


@ISOLATED
async def test_bootstrap_is_one_transaction(services: Services, owner_db: Database, backend: Backend) -> None:
    """The org, its key, the admin, the role and every audit row commit together: on PostgreSQL
    every row carries the same creating transaction (``xmin``); on both backends a refusal at the
    first step leaves nothing behind."""
    org, admin = await bootstrap(services.db, services.keyring, "platform", "root@example.com", ADMIN)
    with pytest.raises(OrganizationExists):
        await bootstrap(services.db, services.keyring, "platform", "other@example.com", ADMIN)
    async with owner_db.system() as session:
        orgs = (await session.execute(text("SELECT count(*) FROM organizations WHERE platform"))).scalar()
        assert orgs == 1
        if backend.name == "sqlite":
            return
        creators = set(
            (
                await session.execute(
                    text(
                        "SELECT xmin::text FROM organizations WHERE id = :org UNION "
                        "SELECT xmin::text FROM signing_keys WHERE org_id = :org UNION "
                        "SELECT xmin::text FROM users WHERE org_id = :org UNION "
                        "SELECT xmin::text FROM user_roles WHERE org_id = :org UNION "
                        "SELECT xmin::text FROM audit_log WHERE org_id = :org"
                    ),
                    {"org": org.id},
                )
            ).scalars()
        )
    assert len(creators) == 1, creators
    assert admin.org_id == org.id
