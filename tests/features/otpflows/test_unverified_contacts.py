"""An admin-set phone nobody verified gets no SMS sign-in code and does not become verified by one;
an admin-set email does get a code, and typing it back verifies it (issue 11; see accounts.codes.user_for)."""

from __future__ import annotations

from sqlalchemy import select

from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization
from namoid.storage.repos import users
from tests.features.authorize.conftest import form_inputs
from tests.features.conftest import MakeUser
from tests.features.otpflows.conftest import CodeFlow, code_in, delivered, set_policy

PHONE = "+919812340001"


async def _actions(services: Services, org: Organization) -> list[str]:
    async with services.db.tenant(org.id) as session:
        query = select(AuditEntry.action).where(AuditEntry.org_id == org.id).order_by(AuditEntry.seq)
        return list((await session.scalars(query)).all())


async def test_an_unverified_admin_set_phone_gets_no_sign_in_code_and_stays_unverified(
    code_flow: CodeFlow, services: Services, org: Organization, make_user: MakeUser
) -> None:
    await set_policy(services, org, methods=("sms_otp",))
    user = await make_user(phone=PHONE)
    assert not user.phone_verified
    entry = await code_flow.ask("sign_in", "sms", PHONE)
    assert entry.status_code == 200 and 'name="code"' in entry.text  # the same page as for a verified phone
    assert await delivered(services, org, PHONE) == []  # but no message
    assert (await _actions(services, org))[-1] == "otp.code_withheld"
    for guess in ("000000", "123456"):
        answer = await code_flow.enter(entry, guess)
        assert answer.status_code == 400 and await code_flow.flow.signed_in_sessions() == 0
    async with services.db.tenant(org.id) as session:
        assert not (await users.get(session, org.id, user.id)).phone_verified  # type: ignore[union-attr]


async def test_an_attested_phone_signs_in_by_sms(
    code_flow: CodeFlow, services: Services, org: Organization, make_user: MakeUser
) -> None:
    await set_policy(services, org, methods=("sms_otp",))
    user = await make_user(phone=PHONE, phone_verified=True)
    entry = await code_flow.ask("sign_in", "sms", PHONE)
    [message] = await delivered(services, org, PHONE)
    claims = await code_flow.id_claims(await code_flow.finish(await code_flow.enter(entry, code_in(message))))
    assert claims["sub"] == str(user.id) and claims["amr"] == ["otp", "sms"]
    async with services.db.tenant(org.id) as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == "user.created"))
        assert [row.detail for row in rows if row.target_id == str(user.id)] == [
            {"phone_verified": "attested"}
        ]


async def test_an_unverified_admin_set_email_gets_a_code_and_is_verified_by_it(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    await set_policy(services, org, methods=("email_otp",))
    user = code_flow.flow.user
    assert not user.email_verified
    entry = await code_flow.ask("sign_in", "email", user.email)
    [message] = await delivered(services, org, user.email)
    assert form_inputs(entry.text)["destination"] == user.email
    await code_flow.finish(await code_flow.enter(entry, code_in(message)))
    async with services.db.tenant(org.id) as session:
        assert (await users.get(session, org.id, user.id)).email_verified  # type: ignore[union-attr]
    assert "user.email_verified" in await _actions(services, org)
