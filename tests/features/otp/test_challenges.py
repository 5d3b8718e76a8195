"""One-time-code challenges, attacked property by property (issue 11 item 2), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from namoid.accounts import otp
from namoid.accounts.otp import Challenger, Issued, Purpose, Verdict
from namoid.crypto.secrets import new_numeric_code
from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization, OtpChallenge, utcnow
from namoid.sweeps import sweep_org
from namoid.tenancy import organizations
from tests.features.conftest import ADMIN

BROWSER = "interaction-handle-of-this-browser"
NOW = utcnow()


@pytest.fixture
def who(services: Services) -> Challenger:
    return Challenger(services.keyring.pepper, ADMIN)


async def _issue(services: Services, who: Challenger, org: Organization, **fields: object) -> Issued:
    fields = {
        "purpose": "sign_in",
        "interaction": BROWSER,
        "destination": "asha@example.com",
        "now": NOW,
    } | fields
    async with services.db.tenant(org.id) as session:
        return await otp.issue(session, who, org.id, **fields)  # type: ignore[arg-type]


async def _verify(
    services: Services, who: Challenger, org: Organization, issued: Issued, code: str | None = None,
    *, purpose: Purpose = "sign_in", interaction: str = BROWSER, now: datetime = NOW,
) -> Verdict:  # fmt: skip
    async with services.db.tenant(org.id) as session:
        return await otp.verify(
            session, who, org.id, issued.challenge_id, purpose=purpose, interaction=interaction,
            code=issued.code if code is None else code, now=now,
        )  # fmt: skip


async def _row(services: Services, org: Organization, issued: Issued) -> OtpChallenge:
    async with services.db.tenant(org.id) as session:
        row = await session.get(OtpChallenge, issued.challenge_id)
    assert row is not None
    return row


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_codes_are_ascii_digits_of_the_asked_length() -> None:
    assert all(len(new_numeric_code(n)) == n and new_numeric_code(n).isascii() for n in (6, 7, 8))
    assert len({new_numeric_code(6) for _ in range(200)}) > 190  # random, not a counter
    for bad in (5, 9, True, "6"):
        with pytest.raises(ValueError):
            new_numeric_code(bad)  # type: ignore[arg-type]


async def test_only_a_keyed_hash_of_the_code_is_stored(
    services: Services, who: Challenger, org: Organization
) -> None:
    first = await _issue(services, who, org)
    row = await _row(services, org, first)
    assert len(first.code) == 6 and first.code not in " ".join(str(v) for v in vars(row).values())
    assert row.code_hash == otp.code_hash(services.keyring.pepper, first.challenge_id, first.code)
    # The same code in another challenge hashes differently: one row's hash says nothing of another's.
    other = uuid.uuid4()
    assert otp.code_hash(services.keyring.pepper, other, first.code) != row.code_hash
    assert row.destination_hash != "asha@example.com" and BROWSER not in row.interaction_hash


async def test_a_code_is_used_once(services: Services, who: Challenger, org: Organization) -> None:
    issued = await _issue(services, who, org)
    assert await _verify(services, who, org, issued) == "verified"
    assert await _verify(services, who, org, issued) == "used"


async def test_of_two_concurrent_right_answers_exactly_one_wins(
    services: Services, who: Challenger, org: Organization
) -> None:
    issued = await _issue(services, who, org)
    verdicts = await asyncio.gather(*(_verify(services, who, org, issued) for _ in range(2)))
    assert sorted(verdicts) == ["used", "verified"]


async def test_a_code_expires_after_five_minutes(
    services: Services, who: Challenger, org: Organization
) -> None:
    issued = await _issue(services, who, org)
    assert await _verify(services, who, org, issued, now=NOW + timedelta(minutes=5)) == "expired"
    assert (await _row(services, org, issued)).consumed_at is None
    fresh = await _issue(services, who, org)
    assert await _verify(services, who, org, fresh, now=NOW + timedelta(minutes=4, seconds=59)) == "verified"


async def test_a_code_is_bound_to_its_purpose_and_browser(
    services: Services, who: Challenger, org: Organization
) -> None:
    issued = await _issue(services, who, org)
    assert await _verify(services, who, org, issued, purpose="password_reset") == "unknown"
    assert await _verify(services, who, org, issued, interaction="another browser") == "unknown"
    assert (await _row(services, org, issued)).wrong_tries == 0  # they could not even guess
    assert await _verify(services, who, org, issued) == "verified"


async def test_a_code_of_another_org_is_unknown(
    services: Services, who: Challenger, org: Organization
) -> None:
    issued = await _issue(services, who, org)
    other = await organizations.create(
        services.db, services.keyring, f"org-{uuid.uuid4().hex[:8]}", "B", ADMIN
    )
    assert await _verify(services, who, other, issued) == "unknown"
    assert await _verify(services, who, org, issued) == "verified"


async def test_five_wrong_codes_kill_the_challenge(
    services: Services, who: Challenger, org: Organization
) -> None:
    issued = await _issue(services, who, org)
    assert [await _verify(services, who, org, issued, _wrong(issued.code)) for _ in range(5)] == [
        "wrong", "wrong", "wrong", "wrong", "dead",
    ]  # fmt: skip
    assert await _verify(services, who, org, issued) == "dead"  # even the right code, now
    row = await _row(services, org, issued)
    assert row.wrong_tries == 5 and row.dead_at is not None and row.consumed_at is None


async def test_four_wrong_codes_still_leave_the_right_one(
    services: Services, who: Challenger, org: Organization
) -> None:
    issued = await _issue(services, who, org)
    for _ in range(4):
        assert await _verify(services, who, org, issued, _wrong(issued.code)) == "wrong"
    assert await _verify(services, who, org, issued, f" {issued.code[:3]} {issued.code[3:]} ") == "verified"


async def test_concurrent_wrong_guesses_cannot_exceed_the_limit(
    services: Services, who: Challenger, org: Organization
) -> None:
    issued = await _issue(services, who, org)
    wrong = [f"{n:06d}" for n in range(20) if f"{n:06d}" != issued.code][:12]
    verdicts = await asyncio.gather(*(_verify(services, who, org, issued, code) for code in wrong))
    assert verdicts.count("wrong") <= 4 and (await _row(services, org, issued)).wrong_tries <= 5


@pytest.mark.parametrize(
    "code",
    [
        "1" * 8192,
        "\u0661\u0662\u0663\u0664\u0665\u0666",
        "\uff11\uff12\uff13\uff14\uff15\uff16",
        "12345",
        "1234567",
        "12345a",
        "",
        "123\x00456",
    ],
)
async def test_malformed_input_is_refused_and_counts_nothing(
    services: Services, who: Challenger, org: Organization, code: str
) -> None:
    issued = await _issue(services, who, org)
    assert await _verify(services, who, org, issued, code) == "malformed"
    row = await _row(services, org, issued)
    assert row.wrong_tries == 0 and row.consumed_at is None


async def test_resend_waits_for_its_cooldown_and_replaces_the_code(
    services: Services, who: Challenger, org: Organization
) -> None:
    issued = await _issue(services, who, org)

    async def resend(at: datetime, interaction: str = BROWSER) -> str | None:
        async with services.db.tenant(org.id) as session:
            return await otp.resend(
                session, who, org.id, issued.challenge_id, interaction=interaction, now=at
            )

    assert await resend(NOW + timedelta(seconds=29)) is None  # cool-down
    assert await resend(NOW + timedelta(seconds=31), interaction="another browser") is None
    later = NOW + timedelta(seconds=31)
    code = await resend(later)
    assert code is not None
    if code != issued.code:
        assert await _verify(services, who, org, issued, now=later) == "wrong"  # the old code is gone
    assert await _verify(services, who, org, Issued(issued.challenge_id, code), now=later) == "verified"
    assert await resend(later + timedelta(minutes=1)) is None  # used


async def test_resend_keeps_the_wrong_tries_and_is_capped(
    services: Services, who: Challenger, org: Organization
) -> None:
    issued = await _issue(services, who, org)
    for _ in range(4):
        await _verify(services, who, org, issued, _wrong(issued.code))
    codes = []
    for i in range(1, 6):
        async with services.db.tenant(org.id) as session:
            codes.append(await otp.resend(session, who, org.id, issued.challenge_id, interaction=BROWSER,
                                          now=NOW + timedelta(seconds=31 * i)))  # fmt: skip
    assert all(codes[:4]) and codes[4] is None  # five codes in all, then no more
    last = Issued(issued.challenge_id, codes[3] or "")
    at = NOW + timedelta(seconds=31 * 4)
    assert await _verify(services, who, org, last, _wrong(last.code), now=at) == "dead"  # 5th wrong, overall


async def test_unknown_purposes_and_missing_bindings_are_refused(
    services: Services, who: Challenger, org: Organization
) -> None:
    with pytest.raises(ValueError, match="purpose"):
        await _issue(services, who, org, purpose="login")
    with pytest.raises(ValueError, match="interaction"):
        await _issue(services, who, org, interaction="")
    with pytest.raises(ValueError, match="6 to 8"):
        await _issue(services, who, org, digits=4)


async def test_every_outcome_is_audited_without_the_code(
    services: Services, who: Challenger, org: Organization
) -> None:
    issued = await _issue(services, who, org, digits=8)
    await _verify(services, who, org, issued, _wrong(issued.code))
    await _verify(services, who, org, issued)
    async with services.db.tenant(org.id) as session:
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.org_id == org.id, AuditEntry.target_id == str(issued.challenge_id))
                .order_by(AuditEntry.seq)
            )
        ).all()
    assert [e.action for e in entries] == [
        "otp.challenge_created",
        "otp.challenge_failed",
        "otp.challenge_verified",
    ]
    assert entries[0].detail == {"purpose": "sign_in", "digits": 8}
    assert entries[1].detail == {"purpose": "sign_in", "wrong_tries": 1}
    assert all(issued.code not in str(e.detail) for e in entries)


async def test_expired_challenges_are_swept(services: Services, who: Challenger, org: Organization) -> None:
    issued = await _issue(services, who, org)
    swept = await sweep_org(services.db, org.id, NOW + timedelta(days=1, minutes=6))
    assert swept.get("otp_challenges") == 1
    async with services.db.tenant(org.id) as session:
        assert await session.get(OtpChallenge, issued.challenge_id) is None
