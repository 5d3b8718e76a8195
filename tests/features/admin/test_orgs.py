"""``/admin/v1/orgs``: only the platform org's admins manage organizations (issue 16)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from namoid.admin import scopes
from namoid.admin.bootstrap import bootstrap
from namoid.oauth import client_registry
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, Organization
from tests.conftest import ISOLATED
from tests.features.admin.conftest import API, admin_client, admin_token, bearer
from tests.features.conftest import ADMIN, MakeClient


def test_only_an_org_admin_of_the_platform_org_carries_platform_scopes() -> None:
    assert scopes.role_scopes(["org_admin"], platform=True) >= set(scopes.PLATFORM_SCOPES)
    assert not scopes.role_scopes(["org_admin"], platform=False) & set(scopes.PLATFORM_SCOPES)
    assert not scopes.role_scopes(["auditor"], platform=True) & set(scopes.PLATFORM_SCOPES)


@ISOLATED
async def test_platform_admins_list_and_create_orgs_and_nobody_else_can(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    owner_db: Database,
    make_client: MakeClient,
    org: Organization,
) -> None:
    with pytest.raises(ValueError, match="cannot be granted here"):
        await admin_client(services, make_client, org, [scopes.ORGS_READ])
    platform, _ = await bootstrap(services.db, services.keyring, "platform", "root@example.com", ADMIN)
    robot = await admin_client(services, make_client, platform, [scopes.ORGS_READ, scopes.ORGS_WRITE])
    auth = bearer(await admin_token(http, services, robot))

    listed = await admin_http.get(f"{API}/orgs", headers=auth)
    assert listed.status_code == 200
    assert {o["slug"]: o["platform"] for o in listed.json()["items"]} == {org.slug: False, "platform": True}
    created = await admin_http.post(f"{API}/orgs", headers=auth, json={"slug": "acme", "name": "Acme"})
    assert created.status_code == 201, created.text
    assert created.json()["slug"] == "acme" and created.json()["platform"] is False
    again = await admin_http.post(f"{API}/orgs", headers=auth, json={"slug": "acme"})
    assert again.status_code == 409
    bad = await admin_http.post(f"{API}/orgs", headers=auth, json={"slug": "Not A Slug"})
    assert bad.status_code == 422
    async with owner_db.system() as session:
        query = select(AuditEntry).where(AuditEntry.request_id == created.headers["x-request-id"])
        entries = (await session.scalars(query)).all()
    assert {(e.action, e.actor_id) for e in entries} >= {("org.created", f"client:{robot.client_id}")}

    # The platform org's admin scopes do not reach into another org's clients: its token is the
    # platform org's, and org-level routes stay within the platform org.
    clients = await admin_http.get(f"{API}/clients", headers=auth)
    assert clients.status_code == 403
    await client_registry.set_admin_scopes(services.db, platform.id, robot.client_id, [], ADMIN)
    assert (await admin_http.get(f"{API}/orgs", headers=auth)).status_code == 403
