"""The admin console on the admin app (issue 16 item 4): an admin signs in through the org's own
issuer (two origins, two cookie jars, as a browser keeps them), and every page acts through the
service layer with the admin as actor; a user without a role, an auditor posting, a form
without its CSRF token and a console path on the public port are all refused."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from namoid.accounts import roles, users
from namoid.oauth import client_registry
from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization, User
from tests.features.admin.conftest import AdminBrowser, location_path
from tests.features.authorize.conftest import form_inputs
from tests.features.conftest import ADMIN, MakeUser


async def _with_role(services: Services, make_user: MakeUser, org: Organization, role: str | None) -> User:
    user = await make_user()
    if role is not None:
        await roles.grant(services.db, org.id, user.id, role, ADMIN)
    return user


async def _admin_entries(services: Services, org: Organization, user: User) -> list[str]:
    async with services.db.tenant(org.id) as session:
        found = await session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.org_id == org.id,
                AuditEntry.actor_type == "admin",
                AuditEntry.actor_id == f"user:{user.id}",
            )
        )
        return list(found)


async def _authenticates(public: httpx.AsyncClient, org: Organization, client_id: str, secret: str) -> bool:
    """Whether the token endpoint accepts ``secret`` (the grant itself is not the client's: 400)."""
    answer = await public.post(f"/o/{org.slug}/token", data={"grant_type": "client_credentials"},
                               auth=(client_id, secret))  # fmt: skip
    return answer.status_code != 401


async def test_an_org_admin_manages_clients_and_users_from_the_console(
    services: Services, browser: AdminBrowser, make_user: MakeUser, org: Organization
) -> None:
    admin = await _with_role(services, make_user, org, "org_admin")
    target = await make_user()
    page = await browser.sign_in(admin.email, "/clients")
    assert page.status_code == 200 and "Register a client" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src" in page.headers["content-security-policy"] and "<script" not in page.text
    assert browser.admin.cookies.get(f"__Host-namoid-admin_{org.slug}")

    token = form_inputs(page.text)["csrf_token"]
    fields = {
        "name": "Shop",
        "type": "confidential",
        "redirect_uris": "https://shop.example/cb",
        "scopes": "openid",
    }
    created = await browser.post("/clients", {"csrf_token": token, **fields})
    assert created.status_code == 200, created.text
    client_id = re.search(r"registered as ([A-Za-z0-9_-]+)\.", created.text)[1]  # type: ignore[index]
    first = re.search(r'id="client-secret" type="text" readonly value="([^"]+)"', created.text)[1]  # type: ignore[index]
    rotated = await browser.post(f"/clients/{client_id}/secret", {"csrf_token": token})
    second = re.search(r'id="client-secret" type="text" readonly value="([^"]+)"', rotated.text)[1]  # type: ignore[index]
    assert first != second
    assert await _authenticates(browser.public, org, client_id, second)
    assert not await _authenticates(browser.public, org, client_id, first)
    disabled = await browser.post(f"/clients/{client_id}/disable", {"csrf_token": token})
    assert disabled.status_code == 303
    assert (await client_registry.get(services.db, org.id, client_id)).status == "disabled"

    off = await browser.post(f"/users/{target.id}/disable", {"csrf_token": token, "reason": "left"})
    assert off.status_code == 303
    listing = await browser.admin.get(location_path(off.headers["location"]))
    assert "The user was disabled" in listing.text

    log = await browser.admin.get(browser.base + "/audit?action=user.disabled")
    assert log.status_code == 200 and str(target.id) in log.text
    export = await browser.admin.get(browser.base + "/audit/export?action=client.secret_rotated")
    assert export.headers["content-disposition"].startswith("attachment") and client_id in export.text
    actions = await _admin_entries(services, org, admin)
    assert {"client.created", "client.secret_rotated", "client.disabled", "user.disabled"} <= set(actions)


async def test_a_user_without_a_role_is_refused_and_gets_no_console_session(
    services: Services, browser: AdminBrowser, make_user: MakeUser, org: Organization
) -> None:
    someone = await _with_role(services, make_user, org, None)
    page = await browser.sign_in(someone.email)
    assert page.status_code == 403 and "Not an administrator" in page.text
    assert browser.admin.cookies.get(f"__Host-namoid-admin_{org.slug}") is None


async def test_an_auditor_reads_but_cannot_post(
    services: Services, browser: AdminBrowser, make_user: MakeUser, org: Organization
) -> None:
    auditor = await _with_role(services, make_user, org, "auditor")
    target = await make_user()
    page = await browser.sign_in(auditor.email, "/users")
    assert page.status_code == 200 and target.email in page.text
    assert "Create a user" not in page.text and "Disable" not in page.text
    token = form_inputs(page.text)["csrf_token"]
    refused = await browser.post(f"/users/{target.id}/disable", {"csrf_token": token})
    assert refused.status_code == 403 and "admin:users:write" in refused.text
    async with services.db.tenant(org.id) as session:
        assert (await session.get(User, target.id)).status == "active"  # type: ignore[union-attr]
    assert await _admin_entries(services, org, auditor) == ["admin.access_denied"]


async def test_a_form_without_its_csrf_token_changes_nothing(
    services: Services, browser: AdminBrowser, make_user: MakeUser, org: Organization
) -> None:
    admin = await _with_role(services, make_user, org, "org_admin")
    target = await make_user()
    assert (await browser.sign_in(admin.email, "/users")).status_code == 200
    for data in ({}, {"csrf_token": "forged"}):
        refused = await browser.post(f"/users/{target.id}/disable", data)
        assert refused.status_code == 403
    async with services.db.tenant(org.id) as session:
        assert (await session.get(User, target.id)).status == "active"  # type: ignore[union-attr]
        rejected = await session.scalars(
            select(AuditEntry.target_id).where(
                AuditEntry.org_id == org.id, AuditEntry.action == "csrf.rejected"
            )
        )
        assert list(rejected) == [f"admin-console/users/{target.id}/disable"] * 2


async def test_the_console_session_dies_with_the_namoid_session(
    services: Services, browser: AdminBrowser, make_user: MakeUser, org: Organization
) -> None:
    admin = await _with_role(services, make_user, org, "org_admin")
    page = await browser.sign_in(admin.email, "/users")
    assert page.status_code == 200
    token = form_inputs(page.text)["csrf_token"]
    out = await browser.post("/signout", {"csrf_token": token})
    assert (
        out.status_code == 303
        and out.headers["location"] == f"{services.settings.base_url}/o/{org.slug}/logout"
    )
    assert browser.admin.cookies.get(f"__Host-namoid-admin_{org.slug}") is None

    await browser.sign_in(admin.email, "/users")
    assert browser.admin.cookies.get(f"__Host-namoid-admin_{org.slug}")
    await users.revoke_sessions(services.db, org.id, admin.id, ADMIN)  # ends every NamoID session
    again = await browser.admin.get(browser.base + "/users")
    assert again.status_code == 303 and "/signin?" in again.headers["location"]
    refused = await browser.post("/users", {"csrf_token": token, "email": "x@example.com"})
    assert refused.status_code == 401


async def test_the_console_is_not_on_the_public_port(http: httpx.AsyncClient, org: Organization) -> None:
    for path in ("", "/signin", "/clients", "/audit"):
        assert (await http.get(f"/console/o/{org.slug}{path}")).status_code == 404


async def test_bad_input_is_an_html_error_never_a_500(
    services: Services, browser: AdminBrowser, make_user: MakeUser, org: Organization
) -> None:
    admin = await _with_role(services, make_user, org, "org_admin")
    page = await browser.sign_in(admin.email, "/clients")
    token = form_inputs(page.text)["csrf_token"]
    cases = [
        ("/clients", {"csrf_token": token, "name": "", "type": "nope", "redirect_uris": "javascript:x"}, 422),
        ("/clients/no-such-client/disable", {"csrf_token": token}, 404),
        ("/users/not-a-uuid/disable", {"csrf_token": token}, 422),
        ("/users", {"csrf_token": token, "email": admin.email}, 409),
        ("/clients/" + "x" * 3 + "/lifetimes", {"csrf_token": token, "refresh_token_ttl": "-5"}, 422),
    ]
    for path, data, status in cases:
        answer = await browser.post(path, data)
        assert answer.status_code == status, (path, answer.text)
        assert answer.headers["content-type"].startswith("text/html")
    for query in ("?since=yesterday", "?cursor=garbage", "?action=" + "a" * 65):
        answer = await browser.admin.get(browser.base + "/audit" + query)
        assert answer.status_code in (400, 422) and answer.headers["content-type"].startswith("text/html")
    assert (await browser.admin.get(browser.base + "/inbox")).status_code == 404
