"""Sign-in by a code (email, SMS), the second factor, sign-up and password reset, on SQLite and
PostgreSQL: each flow end to end through the real app, the code read from the delivered message."""

from __future__ import annotations

from sqlalchemy import select

from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization, RefreshFamily
from namoid.storage.repos import users
from tests.features.conftest import PASSWORD, MakeUser
from tests.features.otpflows.conftest import NEW_PASSWORD, CodeFlow, code_in, delivered, set_policy


async def test_email_code_sign_in_proves_the_email_and_says_otp(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    await set_policy(services, org, methods=("password", "email_otp"))
    user = code_flow.flow.user
    login = await code_flow.login_page()
    assert "Sign in with a code by email" in login.text and "by SMS" not in login.text
    entry = await code_flow.ask("sign_in", "email", user.email.upper())
    assert entry.status_code == 200
    assert 'autocomplete="one-time-code"' in entry.text and 'inputmode="numeric"' in entry.text
    [message] = await delivered(services, org, user.email)
    assert message.html is not None and code_in(message) in message.html
    callback = await code_flow.finish(await code_flow.enter(entry, code_in(message)))
    claims = await code_flow.id_claims(callback)
    assert claims["amr"] == ["otp"] and claims["sub"] == str(user.id)
    async with services.db.tenant(org.id) as session:
        assert (await users.get(session, org.id, user.id)).email_verified  # type: ignore[union-attr]


async def test_sms_code_sign_in_says_sms_and_ends_with_the_web_otp_line(
    code_flow: CodeFlow, services: Services, org: Organization, make_user: MakeUser
) -> None:
    await set_policy(services, org, methods=("sms_otp",))
    user = await make_user(phone="+919812345678", phone_verified=True)
    login = await code_flow.login_page()
    assert 'name="password"' not in login.text and "by SMS" in login.text
    entry = await code_flow.ask("sign_in", "sms", "098123 45678")  # a national form, normalized to E.164
    [message] = await delivered(services, org, "+919812345678")
    code = code_in(message)
    host = services.settings.base_url.removeprefix("https://")
    assert message.text.endswith(f"\n@{host} #{code}")  # WebOTP: origin-bound
    claims = await code_flow.id_claims(await code_flow.finish(await code_flow.enter(entry, code)))
    assert claims["amr"] == ["otp", "sms"] and claims["sub"] == str(user.id)
    async with services.db.tenant(org.id) as session:
        assert (await users.get(session, org.id, user.id)).phone_verified  # type: ignore[union-attr]


async def test_mfa_org_asks_password_then_code_and_amr_says_so(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    await set_policy(services, org, mfa="required")
    flow = code_flow.flow
    entry = await flow.login(await code_flow.login_page())
    assert entry.status_code == 200 and 'name="code"' in entry.text  # a right password alone is not enough
    assert await flow.signed_in_sessions() == 0
    [message] = await delivered(services, org, flow.user.email)
    wrong = await code_flow.enter(entry, "000000" if code_in(message) != "000000" else "111111")
    assert wrong.status_code == 400 and "not right" in wrong.text and await flow.signed_in_sessions() == 0
    claims = await code_flow.id_claims(await code_flow.finish(await code_flow.enter(entry, code_in(message))))
    assert claims["amr"] == ["pwd", "otp", "mfa"]


async def test_sign_up_proves_the_email_before_the_account_exists(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    closed = await code_flow.code_page("sign_up", "email")
    assert closed.status_code == 404  # closed by default
    await set_policy(services, org, registration="open")
    assert "Create an account" in (await code_flow.login_page()).text
    email = "new.person@example.com"
    entry = await code_flow.ask("sign_up", "email", email)
    async with services.db.tenant(org.id) as session:
        assert await users.get_by_email(session, org.id, email) is None  # not before the code comes back
    [message] = await delivered(services, org, email)
    weak = await code_flow.enter(entry, code_in(message), password=NEW_PASSWORD[:5])
    assert weak.status_code == 400 and "8 to 1024" in weak.text
    done = await code_flow.enter(entry, code_in(message), password=NEW_PASSWORD)
    claims = await code_flow.id_claims(await code_flow.finish(done))
    async with services.db.tenant(org.id) as session:
        user = await users.get_by_email(session, org.id, email)
    assert user is not None and user.email_verified and claims["sub"] == str(user.id)


async def test_password_reset_by_email_code_kills_old_refresh_tokens_and_raises_the_event(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    flow = code_flow.flow
    old = await code_flow.tokens(await code_flow.finish(await flow.login(await code_flow.login_page())))
    flow.http.cookies.clear()  # the user forgot the password on another browser
    assert "Forgot password?" in (await code_flow.login_page()).text
    entry = await code_flow.ask("password_reset", "email", flow.user.email)
    [message] = await delivered(services, org, flow.user.email)
    done = await code_flow.enter(entry, code_in(message), password=NEW_PASSWORD)
    assert done.status_code == 303 and "done=reset" in done.headers["location"]
    assert "Your password has been changed" in (await flow.follow(done)).text
    refused = await flow.http.post(
        f"{flow.base}/token",
        data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"],
              "client_id": flow.rp.client_id, "client_secret": flow.rp.secret or ""},
    )  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    old_password = await flow.login(await code_flow.login_page(), password=PASSWORD)
    assert old_password.status_code == 200 and "do not match" in old_password.text
    async with services.db.tenant(org.id) as session:
        actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.org_id == org.id)))
        families = list(await session.scalars(select(RefreshFamily).where(RefreshFamily.org_id == org.id)))
    assert "password.reset" in actions and "grants.revoked" in actions
    assert families and all(row.revoked_at is not None for row in families)
