"""``namoid admin bootstrap``: one platform org and its first admin, each step audited (issue 16)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from namoid.accounts import roles
from namoid.admin.bootstrap import bootstrap
from namoid.services import Services
from namoid.storage.models import AuditEntry
from namoid.tenancy.organizations import OrganizationExists
from tests.conftest import ISOLATED
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
