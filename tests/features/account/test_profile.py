"""Console profile: the name, and a new email or phone that replaces the old one only once a
one-time code sent to it came back (issue 13, issue 11's gap). SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from namoid.services import Services
from namoid.storage.models import AuditEntry, OtpChallenge, User
from tests.features.account.conftest import ConsoleBrowser
from tests.features.authorize.conftest import form_inputs
from tests.features.conftest import MakeUser
from tests.features.otpflows.conftest import (
    code_in,
    delivered,
    no_codes_in_the_log,  # noqa: F401 (autouse: codes never logged)
)

NEW_EMAIL = "asha.new@example.org"
NEW_PHONE = "+919812345678"


async def _user(console: ConsoleBrowser) -> User:
    async with console.services.db.tenant(console.org.id) as session:
        user = await session.scalar(select(User).where(User.id == console.user.id))
        assert user is not None
        return user


async def _actions(console: ConsoleBrowser) -> list[str]:
    async with console.services.db.tenant(console.org.id) as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.org_id == console.org.id).order_by(AuditEntry.seq)
        )
        return list(rows)


async def _challenges(console: ConsoleBrowser) -> int:
    async with console.services.db.tenant(console.org.id) as session:
        count = await session.scalar(select(func.count()).where(OtpChallenge.org_id == console.org.id))
        return int(count or 0)


async def _ask(console: ConsoleBrowser, field: str, value: str) -> httpx.Response:
    fields = await console.form("/profile")
    path = "/profile/email" if field == "email" else "/profile/phone"
    return await console.post(path, {"csrf_token": fields["csrf_token"], field: value})


async def test_the_name_changes_at_once(console: ConsoleBrowser) -> None:
    fields = await console.form("/profile")
    changed = await console.post(
        "/profile/name", {"csrf_token": fields["csrf_token"], "name": "  Asha   Rao "}
    )
    assert changed.status_code == 200 and "Your name was changed." in changed.text
    assert (await _user(console)).name == "Asha Rao"
    empty = await console.post("/profile/name", {"csrf_token": fields["csrf_token"], "name": "   "})
    assert empty.status_code == 400 and (await _user(console)).name == "Asha Rao"
    assert (await _actions(console)).count("user.name_changed") == 1


async def test_a_new_email_replaces_the_old_one_only_with_its_code(
    console: ConsoleBrowser, services: Services
) -> None:
    old = console.user.email
    entry = await _ask(console, "email", NEW_EMAIL.upper())
    assert entry.status_code == 200 and "Enter your code" in entry.text
    assert (await _user(console)).email == old  # nothing changes before the code comes back
    [message] = await delivered(services, console.org, NEW_EMAIL)
    code = code_in(message)
    fields = form_inputs(entry.text)
    wrong = await console.post(
        "/profile/verify", fields | {"code": "000000" if code != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and "not right" in wrong.text
    assert (await _user(console)).email == old
    done = await console.post("/profile/verify", fields | {"code": code})
    assert done.status_code == 200 and "Your email address was changed and verified." in done.text
    user = await _user(console)
    assert user.email == NEW_EMAIL and user.email_verified
    actions = await _actions(console)
    assert "user.email_changed" in actions and "user.identifier_changed" in actions
    again = await console.post("/profile/verify", fields | {"code": code})  # the code is single use
    assert again.status_code == 400 and "can no longer be used" in again.text


async def test_a_tampered_address_or_another_browser_cannot_use_the_code(
    console: ConsoleBrowser, services: Services, make_user: MakeUser
) -> None:
    entry = await _ask(console, "email", NEW_EMAIL)
    [message] = await delivered(services, console.org, NEW_EMAIL)
    fields = form_inputs(entry.text) | {"code": code_in(message)}
    tampered = await console.post("/profile/verify", fields | {"destination": "attacker@example.org"})
    assert tampered.status_code == 400 and (await _user(console)).email == console.user.email
    other = ConsoleBrowser(console.http, services, console.org, console.user)
    console.http.cookies.clear()
    await other.open()  # a new browser session of the same user: another interaction
    fields["csrf_token"] = (await other.form("/profile"))["csrf_token"]
    refused = await other.post("/profile/verify", fields)
    assert refused.status_code == 400 and (await _user(console)).email == console.user.email


async def test_an_address_of_another_account_gets_the_same_page_and_no_message(
    console: ConsoleBrowser, services: Services, make_user: MakeUser
) -> None:
    taken = (await make_user()).email
    entry = await _ask(console, "email", taken)
    assert entry.status_code == 200 and "Enter your code" in entry.text
    assert await delivered(services, console.org, taken) == []
    assert "otp.code_withheld" in await _actions(console)


async def test_a_stale_sign_in_sends_no_code(console: ConsoleBrowser, services: Services) -> None:
    fields = await console.form("/profile")
    await console.age_sign_in(301)
    refused = await console.post("/profile/email", {"csrf_token": fields["csrf_token"], "email": NEW_EMAIL})
    assert refused.status_code == 403 and "Confirm it is you" in refused.text
    assert f"next=%2Fo%2F{console.org.slug}%2Faccount%2Fprofile" in refused.text
    assert await _challenges(console) == 0
    assert await delivered(services, console.org, NEW_EMAIL) == []


async def test_a_new_phone_is_verified_by_sms(console: ConsoleBrowser, services: Services) -> None:
    refused = await _ask(console, "phone", "+1 202 555 0100")  # outside the org's countries
    assert refused.status_code == 400 and await _challenges(console) == 0
    entry = await _ask(console, "phone", "98123 45678")
    assert entry.status_code == 200, entry.text
    assert (await _user(console)).phone is None
    [message] = await delivered(services, console.org, NEW_PHONE)
    done = await console.post("/profile/verify", form_inputs(entry.text) | {"code": code_in(message)})
    assert done.status_code == 200 and "Your phone number was changed and verified." in done.text
    user = await _user(console)
    assert user.phone == NEW_PHONE and user.phone_verified
