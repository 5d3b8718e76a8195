"""Bad input at the code pages: each gets a clear message on the page (never a 500) and writes
nothing but its audit entry; and no account enumeration through the code forms."""

from __future__ import annotations

import re
import statistics
import time

import httpx
from sqlalchemy import func, select, update

from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization, OtpChallenge, OutboxEntry, utcnow
from tests.features.authorize.conftest import form_inputs
from tests.features.conftest import MakeUser
from tests.features.otpflows.conftest import NEW_PASSWORD, CodeFlow, at, code_in, delivered, set_policy
from tests.features.ratelimit.conftest import ClientAt, UseLimits


async def _rows(services: Services, org: Organization) -> tuple[int, int, int]:
    """(challenges, messages, wrong tries) of the org: what a refused input must not change."""
    async with services.db.tenant(org.id) as session:
        challenges = await session.scalar(select(func.count()).where(OtpChallenge.org_id == org.id))
        tries = await session.scalar(
            select(func.coalesce(func.sum(OtpChallenge.wrong_tries), 0)).where(OtpChallenge.org_id == org.id)
        )
        messages = await session.scalar(
            select(func.count()).where(OutboxEntry.org_id == org.id, OutboxEntry.kind != "webhook")
        )
    return int(challenges or 0), int(messages or 0), int(tries or 0)


async def _audited(services: Services, org: Organization, action: str) -> list[AuditEntry]:
    async with services.db.tenant(org.id) as session:
        found = await session.scalars(
            select(AuditEntry).where(AuditEntry.org_id == org.id, AuditEntry.action == action)
        )
        return list(found)


async def test_bad_destinations_get_a_form_error_and_nothing_is_written(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    await set_policy(services, org, methods=("password", "email_otp", "sms_otp"))
    before = await _rows(services, org)
    cases = [
        ("email", "", "Enter a valid email address"),
        ("email", "not-an-email", "Enter a valid email address"),
        ("email", "x" * 8192, "Enter a valid email address"),
        ("sms", "", "Enter a mobile number"),
        ("sms", "+91 12345", "not valid"),
        ("sms", "+91 11 2345 6789", "not a mobile number"),  # a Delhi landline
        ("sms", "+1 650 253 0000", "cannot be sent by SMS to that country"),  # SMS pumping abroad
        ("sms", "+44 7400 123456", "cannot be sent by SMS to that country"),
        ("sms", "+९१ ९८१२३ ४५६७८", "Enter a mobile number"),  # Devanagari digits
    ]
    for channel, destination, message in cases:
        answer = await code_flow.ask("sign_in", channel, destination)
        assert answer.status_code == 400 and message in answer.text, (destination[:40], answer.text[:500])
        assert 'role="alert"' in answer.text
    missing = await code_flow.http.post(
        f"{code_flow.flow.base}/code", data=form_inputs((await code_flow.code_page("sign_in", "email")).text)
    )
    assert missing.status_code == 400 and "Enter a valid email address" in missing.text
    assert await _rows(services, org) == before
    refused = await _audited(services, org, "otp.destination_refused")
    details = " ".join(str(entry.detail) for entry in refused)
    assert len(refused) == 6 and not any(raw in details for raw in ("650 253", "7400", "2345 6789", "९८"))


async def test_bad_codes_get_a_clear_message_and_count_only_when_they_are_guesses(
    code_flow: CodeFlow, services: Services, org: Organization, client_at: ClientAt
) -> None:
    await set_policy(services, org, methods=("password", "email_otp"))
    entry = await code_flow.ask("sign_in", "email", code_flow.flow.user.email)
    [message] = await delivered(services, org, code_flow.flow.user.email)
    before = await _rows(services, org)
    for code, text in [
        ("", "Enter the 6-digit code"),
        ("7" * 8192, "Enter the 6-digit code"),  # an 8 KB "code"
        ("١٢٣٤٥٦", "Enter the 6-digit code"),  # Arabic-Indic digits
        ("१२३४५६", "Enter the 6-digit code"),  # Devanagari digits
        ("12345", "Enter the 6-digit code"),
    ]:
        answer = await code_flow.enter(entry, code)
        assert answer.status_code == 400 and text in answer.text
    assert await _rows(services, org) == before  # malformed input is not a guess
    other_purpose = await code_flow.enter(
        entry, code_in(message), purpose="password_reset", password=NEW_PASSWORD
    )
    assert other_purpose.status_code == 400 and "does not belong" in other_purpose.text
    async with client_at("192.0.2.99") as other_http:  # another browser, its own session and CSRF token
        thief = at(code_flow, other_http)
        own_form = form_inputs((await thief.code_page("sign_in", "email")).text)
        stolen = form_inputs(entry.text) | {"csrf_token": own_form["csrf_token"], "req": own_form["req"]}
        answer = await other_http.post(
            f"{thief.flow.base}/code/verify", data=stolen | {"code": code_in(message)}
        )
        assert answer.status_code == 400 and "does not belong" in answer.text
    assert await _rows(services, org) == before
    assert await code_flow.flow.signed_in_sessions() == 0


async def test_expired_and_reused_codes(code_flow: CodeFlow, services: Services, org: Organization) -> None:
    flow = code_flow.flow
    entry = await code_flow.ask("password_reset", "email", flow.user.email)
    [message] = await delivered(services, org, flow.user.email)
    async with services.db.tenant(org.id) as session:
        await session.execute(
            update(OtpChallenge).where(OtpChallenge.org_id == org.id).values(expires_at=utcnow())
        )
    expired = await code_flow.enter(entry, code_in(message), password=NEW_PASSWORD)
    assert expired.status_code == 400 and "expired" in expired.text
    again = await code_flow.ask("password_reset", "email", flow.user.email)
    [newest, _] = await delivered(services, org, flow.user.email)
    done = await code_flow.enter(again, code_in(newest), password=NEW_PASSWORD)
    assert done.status_code == 303
    reused = await code_flow.enter(again, code_in(newest), password=NEW_PASSWORD)
    assert reused.status_code == 400 and "already used" in reused.text


def _normalized(page: str) -> str:
    """The page without what differs per request by design: tokens, ids and the masked address."""
    page = re.sub(r'value="[^"]*"', 'value=""', re.sub(r"req=[A-Za-z0-9_-]+", "req=", page))
    return re.sub(r"If \S+ can receive", "If … can receive", page)


async def test_unknown_and_known_destinations_look_the_same(
    code_flow: CodeFlow, services: Services, org: Organization, client_at: ClientAt, use_limits: UseLimits
) -> None:
    """No enumeration: an unknown email gets the same status and page as a known one, and no
    message. Timing: both paths do the same limiter hits, one user lookup, one challenge
    INSERT with its audit row and the destination's HMAC; the known path adds the outbox row,
    the unknown path an ``otp.code_withheld`` audit row instead. Compared: the median time of
    15 requests each (from fresh addresses), which must lie within a factor of 2."""
    await set_policy(services, org, methods=("password", "email_otp"))
    await use_limits({"otp.send.destination": "100/minute"})  # 15 sends to one address, for the timing
    known, unknown = code_flow.flow.user.email, "nobody-here@example.com"
    pages: dict[str, list[httpx.Response]] = {known: [], unknown: []}
    times: dict[str, list[float]] = {known: [], unknown: []}
    for round_ in range(15):
        for number, email in enumerate((known, unknown)):
            async with client_at(f"198.18.{round_}.{number + 1}") as http:
                me = at(code_flow, http)
                page = await me.code_page("sign_in", "email")
                fields = form_inputs(page.text) | {"destination": email if round_ % 5 else email.upper()}
                started = time.perf_counter()
                answer = await http.post(f"{me.flow.base}/code", data=fields)
                times[email].append(time.perf_counter() - started)
                pages[email].append(answer)
    assert {r.status_code for r in pages[known] + pages[unknown]} == {200}
    assert {_normalized(r.text) for r in pages[known]} == {_normalized(r.text) for r in pages[unknown]}
    assert len(await delivered(services, org, known)) == 15 and await delivered(services, org, unknown) == []
    ratio = statistics.median(times[unknown]) / statistics.median(times[known])
    print(f"\nTIMING median unknown/known = {ratio:.2f} over {len(times[known])} requests each")
    assert 0.5 < ratio < 2


async def test_a_code_for_one_address_cannot_sign_in_another(
    code_flow: CodeFlow, services: Services, org: Organization, make_user: MakeUser
) -> None:
    """The code is bound to its destination: a right code for my address, posted with the
    victim's address in the form, signs nobody in (and counts nothing)."""
    await set_policy(services, org, methods=("password", "email_otp"))
    victim = await make_user()
    entry = await code_flow.ask("sign_in", "email", code_flow.flow.user.email)
    [message] = await delivered(services, org, code_flow.flow.user.email)
    forged = await code_flow.enter(entry, code_in(message), destination=victim.email)
    assert forged.status_code == 400 and "does not belong" in forged.text
    assert await code_flow.flow.signed_in_sessions() == 0
