"""OTP-flood simulations (issue 11 item 5): the ``otp.send.*``, ``registration.*``,
``password_reset.*`` and ``otp.verify.challenge`` policies cut each flood off; run with ``-s``
for the figures. Each simulated address is its own browser (session, CSRF token, request)."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from namoid.services import Services
from namoid.storage.models import Organization, OutboxEntry
from tests.features.otpflows.conftest import CodeFlow, at, code_in, delivered, set_policy
from tests.features.ratelimit.conftest import ClientAt, UseLimits, figure, security_events


async def _queued(services: Services, org: Organization) -> int:
    async with services.db.tenant(org.id) as session:
        query = select(func.count()).where(OutboxEntry.org_id == org.id, OutboxEntry.kind != "webhook")
        return int(await session.scalar(query) or 0)


async def test_one_destination_from_many_ips_gets_three_codes(
    code_flow: CodeFlow, services: Services, org: Organization, use_limits: UseLimits, client_at: ClientAt
) -> None:
    """100 addresses ask a sign-in code for one email: ``otp.send.destination`` (3 per 10 minutes)."""
    await set_policy(services, org, methods=("password", "email_otp"))
    await use_limits()
    statuses: list[int] = []
    started = time.perf_counter()
    for number in range(100):
        async with client_at(f"198.51.{number // 200}.{number % 200 + 1}") as http:
            answer = await at(code_flow, http).ask("sign_in", "email", code_flow.flow.user.email)
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert answer.headers["ratelimit-policy"].startswith('"otp.send.destination";')
    elapsed = time.perf_counter() - started
    queued = await _queued(services, org)
    assert statuses.count(200) == 3 and statuses.count(429) == 97 and queued == 3
    figure(
        f"one destination, 100 IPs: {statuses.count(200)} codes sent, {statuses.count(429)} refused "
        f"by otp.send.destination, {queued} messages queued ({elapsed:.1f} s)"
    )


async def test_many_destinations_from_one_org_stop_at_its_hourly_budget(
    code_flow: CodeFlow, services: Services, org: Organization, use_limits: UseLimits, client_at: ClientAt
) -> None:
    """60 addresses sign up 60 new emails (each a message): the org's budget (here 25/hour) caps
    the spend, and the flood is announced once (``otp.flood_suspected``)."""
    await set_policy(services, org, registration="open")
    await use_limits({"otp.send.org_hourly": "25/hour"})
    statuses: list[int] = []
    for number in range(60):
        async with client_at(f"203.0.{number // 200 + 1}.{number % 200 + 1}") as http:
            answer = await at(code_flow, http).ask("sign_up", "email", f"pump-{number}@example.com")
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert answer.headers["ratelimit-policy"].startswith('"otp.send.org_hourly";')
    queued = await _queued(services, org)
    alarms = await security_events(services, org, "otp.flood_suspected")
    assert statuses.count(200) == 25 and queued == 25 and len(alarms) == 1
    figure(
        f"60 destinations, one org, budget 25/hour: {queued} messages queued, "
        f"{statuses.count(429)} refused by otp.send.org_hourly, {len(alarms)} otp.flood_suspected event"
    )


async def test_one_ip_many_destinations_and_reset_and_sign_up_limits(
    code_flow: CodeFlow, services: Services, org: Organization, use_limits: UseLimits, client_at: ClientAt
) -> None:
    """One address: 3 resets per destination an hour, 10 sign-ups and 10 codes an hour in all."""
    await set_policy(services, org, registration="open", methods=("password", "email_otp"))
    await use_limits()
    async with client_at("192.0.2.50") as http:
        me = at(code_flow, http)
        resets = [(await me.ask("password_reset", "email", me.flow.user.email)).status_code for _ in range(4)]
        assert resets == [200, 200, 200, 429]
    async with client_at("192.0.2.51") as http:
        me = at(code_flow, http)
        sign_ups = [(await me.ask("sign_up", "email", f"n{n}@example.com")).status_code for n in range(11)]
        assert sign_ups.count(200) == 10 and sign_ups[-1] == 429
    async with client_at("192.0.2.52") as http:
        me = at(code_flow, http)
        sent = [(await me.ask("sign_in", "email", f"x{n}@example.com")).status_code for n in range(11)]
        assert sent.count(200) == 10 and sent[-1] == 429
    figure(
        f"one IP: resets to one email {resets}; sign-ups {sign_ups.count(200)}/11; codes {sent.count(200)}/11"
    )


async def test_guessing_a_code_ends_after_five_tries(
    code_flow: CodeFlow, services: Services, org: Organization, use_limits: UseLimits
) -> None:
    """Wrong codes: the 5th kills the challenge; the right code then no longer works either, and
    ``otp.verify.challenge`` (5 an hour) answers 429 from the 6th try on."""
    await set_policy(services, org, methods=("password", "email_otp"))
    await use_limits()
    entry = await code_flow.ask("sign_in", "email", code_flow.flow.user.email)
    [message] = await delivered(services, org, code_flow.flow.user.email)
    right = code_in(message)
    wrong = [f"{(int(right) + n) % 1_000_000:06d}" for n in range(1, 6)]
    answers = [await code_flow.enter(entry, guess) for guess in wrong]
    assert [a.status_code for a in answers] == [400] * 5
    assert "not right" in answers[3].text and "no longer works" in answers[4].text
    after = await code_flow.enter(entry, right)
    assert after.status_code == 429 and after.headers["ratelimit-policy"].startswith(
        '"otp.verify.challenge";'
    )
    assert await code_flow.flow.signed_in_sessions() == 0
    figure("guessing one code: 4 wrong answers, the 5th kills the challenge, the 6th try gets 429")
