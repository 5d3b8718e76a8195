"""``POST /code/resend`` end to end (issue 11), on SQLite and PostgreSQL: a new code only after the
30-second cool-down; it replaces the old one (only the newest works); wrong tries carry over, so
resending never buys more guesses; a resend is counted like a first send (``otp.send.*``), and a
challenge gets at most five codes. The clock is moved by backdating the challenge's last send."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from namoid.accounts import otp
from namoid.services import Services
from namoid.storage.models import Organization, OtpChallenge, utcnow
from namoid.web.code_texts import ERRORS
from tests.features.authorize.conftest import form_inputs
from tests.features.otpflows.conftest import CodeFlow, code_in, delivered, set_policy
from tests.features.ratelimit.conftest import UseLimits


async def _resend(code_flow: CodeFlow, entry: httpx.Response) -> httpx.Response:
    return await code_flow.http.post(f"{code_flow.flow.base}/code/resend", data=form_inputs(entry.text))


async def _after_cooldown(services: Services, org: Organization) -> None:
    """As if the cool-down had passed since the last code was sent."""
    async with services.db.tenant(org.id) as session:
        earlier = utcnow() - otp.RESEND_COOLDOWN - timedelta(seconds=1)
        await session.execute(
            update(OtpChallenge).where(OtpChallenge.org_id == org.id).values(last_sent_at=earlier)
        )


RESEND_REFUSED = ERRORS["en"]["resend_refused"]


def _other(code: str) -> str:
    return "0" * len(code) if code != "0" * len(code) else "1" * len(code)


async def test_a_new_code_comes_only_after_the_cooldown_and_only_it_works(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    await set_policy(services, org, methods=("email_otp",))
    email = code_flow.flow.user.email
    entry = await code_flow.ask("sign_in", "email", email)
    [first] = await delivered(services, org, email)
    early = await _resend(code_flow, entry)
    assert early.status_code == 200 and RESEND_REFUSED in early.text
    assert len(await delivered(services, org, email)) == 1  # nothing sent during the cool-down
    await _after_cooldown(services, org)
    renewed = await _resend(code_flow, entry)
    assert renewed.status_code == 200 and RESEND_REFUSED not in renewed.text
    assert (
        form_inputs(renewed.text)["challenge"] == form_inputs(entry.text)["challenge"]
    )  # the same challenge
    newest, older = await delivered(services, org, email)
    assert older.text == first.text
    if code_in(first) != code_in(newest):  # (one time in a million they coincide)
        stale = await code_flow.enter(entry, code_in(first))
        assert stale.status_code == 400 and "not right" in stale.text
    claims = await code_flow.id_claims(await code_flow.finish(await code_flow.enter(entry, code_in(newest))))
    assert claims["amr"] == ["otp"]


async def test_wrong_tries_carry_over_a_resend(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    await set_policy(services, org, methods=("email_otp",))
    email = code_flow.flow.user.email
    entry = await code_flow.ask("sign_in", "email", email)
    [first] = await delivered(services, org, email)
    for _ in range(2):
        assert "not right" in (await code_flow.enter(entry, _other(code_in(first)))).text
    await _after_cooldown(services, org)
    assert RESEND_REFUSED not in (await _resend(code_flow, entry)).text
    [newest, _] = await delivered(services, org, email)
    for _ in range(2):
        assert "not right" in (await code_flow.enter(entry, _other(code_in(newest)))).text
    fifth = await code_flow.enter(entry, _other(code_in(newest)))
    assert fifth.status_code == 400 and "Too many wrong codes" in fifth.text  # 5 in all, not 5 per code
    dead = await code_flow.enter(entry, code_in(newest))
    assert dead.status_code in (400, 429) and await code_flow.flow.signed_in_sessions() == 0


async def test_a_resend_is_counted_like_a_send_and_a_challenge_gets_at_most_five_codes(
    code_flow: CodeFlow, services: Services, org: Organization, use_limits: UseLimits
) -> None:
    await set_policy(services, org, methods=("email_otp",))
    email = code_flow.flow.user.email
    entry = await code_flow.ask(
        "sign_in", "email", email
    )  # send 1 of otp.send.destination's 3 per 10 minutes
    for _ in range(2):
        await _after_cooldown(services, org)
        assert RESEND_REFUSED not in (await _resend(code_flow, entry)).text
    await _after_cooldown(services, org)
    limited = await _resend(code_flow, entry)
    assert limited.status_code == 429 and limited.headers["ratelimit-policy"].startswith(
        '"otp.send.destination";'
    )
    assert len(await delivered(services, org, email)) == 3

    await use_limits({"otp.send.destination": "100/minute"})
    for _ in range(otp.MAX_SENDS - 3):
        await _after_cooldown(services, org)
        assert RESEND_REFUSED not in (await _resend(code_flow, entry)).text
    await _after_cooldown(services, org)
    capped = await _resend(code_flow, entry)
    assert capped.status_code == 200 and RESEND_REFUSED in capped.text
    assert len(await delivered(services, org, email)) == otp.MAX_SENDS
