"""The first platform admin's one-time sign-in link (``namoid admin bootstrap``, issue 16): it sets
a password once, within its lifetime, for its own account only, and lands in the console."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update

from namoid.accounts import sign_in_links
from namoid.admin.bootstrap import bootstrap
from namoid.services import Services
from namoid.storage.models import AuditEntry, OtpChallenge, utcnow
from tests.conftest import ISOLATED
from tests.features.admin.conftest import AdminBrowser
from tests.features.authorize.conftest import form_inputs
from tests.features.conftest import ADMIN

NEW_PASSWORD = "a platform admin's first password"


@ISOLATED
async def test_the_bootstrap_link_works_once_and_lands_in_the_console(
    services: Services, http: httpx.AsyncClient, admin_http: httpx.AsyncClient
) -> None:
    org, admin = await bootstrap(services.db, services.keyring, "platform", "root@example.com", ADMIN)
    token = await sign_in_links.issue(services.db, services.keyring.pepper, org.id, admin, utcnow(), ADMIN)
    async with services.db.tenant(org.id) as session:
        stored = (await session.scalars(select(OtpChallenge).where(OtpChallenge.org_id == org.id))).one()
    assert token.split(".")[1] not in stored.code_hash and stored.expires_at - utcnow() <= timedelta(
        minutes=15
    )

    page = await http.get(f"/o/{org.slug}/sign-in-link", params={"token": token})
    assert (
        page.status_code == 200
        and services.settings.admin_base_url in page.headers["content-security-policy"]
    )
    fields = form_inputs(page.text)
    assert fields["token"] == token
    wrong = await http.post(
        f"/o/{org.slug}/sign-in-link", data=fields | {"email": "other@example.com", "password": NEW_PASSWORD}
    )
    assert wrong.status_code == 400 and "not valid for that email" in wrong.text
    short = await http.post(
        f"/o/{org.slug}/sign-in-link", data=fields | {"email": admin.email, "password": "x"}
    )
    assert short.status_code == 422
    used = await http.post(
        f"/o/{org.slug}/sign-in-link", data=fields | {"email": admin.email, "password": NEW_PASSWORD}
    )
    assert used.status_code == 303
    assert used.headers["location"] == f"{services.settings.admin_base_url}/console/o/{org.slug}"
    again = await http.post(
        f"/o/{org.slug}/sign-in-link",
        data=fields | {"email": admin.email, "password": "another one!"},  # pragma: allowlist secret
    )
    assert again.status_code == 400 and "already used or has expired" in again.text

    browser = AdminBrowser(http, admin_http, org)
    landing = urlsplit(used.headers["location"]).path.removeprefix(browser.base)
    console = await browser.sign_in(admin.email, landing, password=NEW_PASSWORD)
    assert console.status_code == 200 and "Dashboard" in console.text
    async with services.db.tenant(org.id) as session:
        actions = set(
            (await session.scalars(select(AuditEntry.action).where(AuditEntry.org_id == org.id))).all()
        )
    assert {"sign_in_link.issued", "sign_in_link.used", "user.password_set"} <= actions


@ISOLATED
async def test_an_expired_or_forged_link_is_refused(services: Services, http: httpx.AsyncClient) -> None:
    org, admin = await bootstrap(services.db, services.keyring, "platform", "root@example.com", ADMIN)
    token = await sign_in_links.issue(services.db, services.keyring.pepper, org.id, admin, utcnow(), ADMIN)
    async with services.db.tenant(org.id) as session:
        await session.execute(update(OtpChallenge).values(expires_at=utcnow() - timedelta(seconds=1)))
    challenge, secret = token.split(".")
    for given in (token, f"{challenge}.{secret[::-1]}", "garbage", "x" * 5000):
        answer = await http.post(
            f"/o/{org.slug}/sign-in-link",
            data={"token": given, "email": admin.email, "password": NEW_PASSWORD},
        )
        assert answer.status_code == 400, given
    async with services.db.tenant(org.id) as session:
        assert (
            await session.scalars(select(AuditEntry.action).where(AuditEntry.action == "user.password_set"))
        ).all() == []
