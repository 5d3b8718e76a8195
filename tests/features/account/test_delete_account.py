"""Console: deleting one's own account (issue 13) behind a step-up, a CSRF token and a typed
confirmation; refusals change nothing; afterwards the browser is signed out. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from namoid.privacy import erasure
from namoid.services import Services
from namoid.storage.models import Organization, User
from tests.features.account.conftest import ConsoleBrowser, console_cookie
from tests.features.conftest import ADMIN, MakeUser


async def _status(services: Services, org: Organization, user: User) -> str:
    async with services.db.tenant(org.id) as session:
        row = await session.get(User, user.id, populate_existing=True)
    assert row is not None
    return row.status


async def test_the_page_explains_the_grace_period_and_what_is_kept(console: ConsoleBrowser) -> None:
    await erasure.set_grace(console.services.db, console.org.slug, 14, ADMIN)
    page = await console.open("/delete")
    assert page.status_code == 200
    assert "For 14 days the account" in page.text
    assert "Audit events" in page.text and "DPDP" in page.text
    assert 'name="confirm"' in page.text and 'name="csrf_token"' in page.text


async def test_deleting_signs_out_and_ends_the_account(console: ConsoleBrowser, make_user: MakeUser) -> None:
    someone_else = await make_user()
    fields = await console.form("/delete")
    done = await console.post("/delete", fields | {"confirm": "DELETE"})
    assert done.status_code == 200 and "Your account is deleted" in done.text
    assert console_cookie(console.http, console.org) is None
    assert await _status(console.services, console.org, console.user) == "deleted"
    assert await _status(console.services, console.org, someone_else) == "active"
    async with console.services.db.tenant(console.org.id) as session:
        row = await session.get(User, console.user.id, populate_existing=True)
    assert row is not None and row.purge_at is not None and row.deleted_at is not None
    assert row.purge_at - row.deleted_at == timedelta(days=30)
    # Signed out: the console asks to sign in again, and the sign-in is refused.
    again = await console.http.get(console.base + "/delete")
    assert again.status_code == 303 and "/account/signin" in again.headers["location"]
    refused = await console.http.post(console.base + "/delete", data=fields | {"confirm": "DELETE"})
    assert refused.status_code == 401


async def test_refusals_change_nothing(console: ConsoleBrowser) -> None:
    fields = await console.form("/delete")
    unconfirmed = await console.post("/delete", fields | {"confirm": "delete"})
    assert unconfirmed.status_code == 400 and "Nothing was deleted" in unconfirmed.text
    forged = await console.post("/delete", fields | {"confirm": "DELETE", "csrf_token": "forged"})
    assert forged.status_code == 403
    await console.age_sign_in(3600)
    stale = await console.post("/delete", fields | {"confirm": "DELETE"})
    assert stale.status_code == 403 and "max_age" in stale.text
    assert await _status(console.services, console.org, console.user) == "active"
