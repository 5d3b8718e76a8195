"""Offline KYC service: a synthetic file verified and stored masked; every bad input refused,
nothing stored, the reason class audited and never the data (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from namoid import audit
from namoid.crypto.certificates import PinnedCertificate
from namoid.crypto.name_mac import name_mac
from namoid.kyc import service as kyc
from namoid.kyc.errors import KycRefused
from namoid.services import Services
from namoid.storage.models import AuditEntry, KycRecord, Organization, User
from namoid.storage.repos import users as user_repo
from tests import kyc_fixtures as fx
from tests.features.conftest import ADMIN, MakeUser
from tests.features.kyc.conftest import expired_signer, future_signer, lapsed_signer

STARTED = {"consent_notice": kyc.CONSENT_NOTICE}
RECORD_COLUMNS = {
    "id", "org_id", "user_id", "last4", "name_mac", "result", "signer_sha256", "signer_standing",
    "generated_at", "verified_at",
}  # fmt: skip


async def _rows(services: Services, org: Organization) -> list[KycRecord]:
    async with services.db.tenant(org.id) as session:
        return list(await session.scalars(select(KycRecord).where(KycRecord.org_id == org.id)))


async def _actions(services: Services, org: Organization) -> list[tuple[str, dict[str, Any]]]:
    async with services.db.tenant(org.id) as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.org_id == org.id, AuditEntry.action.like("kyc.%"))
            .order_by(AuditEntry.seq)
        )  # fmt: skip
        return [(row.action, row.detail) for row in rows]


async def _upload(
    services: Services, org: Organization, user: User, data: bytes, pinned: list[PinnedCertificate],
    share_code: str = fx.SHARE_CODE, now: datetime | None = None,
) -> KycRecord:  # fmt: skip
    actor = audit.Actor("user", str(user.id))
    upload = kyc.Upload(data, share_code)
    return await kyc.verify_upload(services.db, services.keyring, pinned, org.id, user.id, upload, actor, now)


async def test_a_synthetic_file_is_verified_and_stored_masked(
    services: Services, kyc_org: Organization, make_user: MakeUser, pinned: list[PinnedCertificate]
) -> None:
    user = await make_user(name=fx.NAME)
    person = fx.Person()
    before = datetime.now(UTC)
    await _upload(services, kyc_org, user, fx.upload(person), pinned)
    [row] = await _rows(services, kyc_org)
    assert set(KycRecord.__table__.columns.keys()) == RECORD_COLUMNS
    assert row.user_id == user.id and row.org_id == kyc_org.id
    assert row.last4 == fx.LAST4
    assert row.name_mac == name_mac(services.keyring.pepper, kyc_org.id, fx.NAME.casefold())
    assert row.name_mac != name_mac(services.keyring.pepper, user.id, fx.NAME.casefold())  # per-org key
    assert (row.result, row.signer_sha256, row.signer_standing) == ("valid", pinned[0].sha256, "in_validity")
    assert abs(row.generated_at - person.generated_at) < timedelta(milliseconds=1)
    assert before <= row.verified_at <= datetime.now(UTC)
    for value in vars(row).values():  # the data itself is nowhere in the row
        assert fx.NAME.casefold() not in str(value).casefold() and person.reference_id not in str(value)
    verified = ("kyc.verified", {"result": "valid", "signer": "in_validity"})
    assert await _actions(services, kyc_org) == [("kyc.started", STARTED), verified]


async def test_a_file_signed_soon_after_its_certificate_expired_is_accepted_and_flagged(
    services: Services, kyc_org: Organization, make_user: MakeUser, pinned: list[PinnedCertificate]
) -> None:
    """UIDAI signs with a key after its certificate's notAfter (a genuine 2025 file, research §1.4):
    within the grace the file is accepted, and the record and audit entry say so."""
    user = await make_user(name=fx.NAME)
    await _upload(services, kyc_org, user, fx.upload(signer=lapsed_signer()), pinned)
    [row] = await _rows(services, kyc_org)
    assert (row.signer_sha256, row.signer_standing) == (lapsed_signer().pinned.sha256, "after_expiry")
    verified = ("kyc.verified", {"result": "valid", "signer": "after_expiry"})
    assert await _actions(services, kyc_org) == [("kyc.started", STARTED), verified]


async def test_the_maximum_file_age_still_applies_to_a_lapsed_signer(
    services: Services, kyc_org: Organization, make_user: MakeUser, pinned: list[PinnedCertificate]
) -> None:
    user = await make_user(name=fx.NAME)
    old = fx.Person(generated_at=datetime.now(UTC) - timedelta(days=1, hours=1))  # after its notAfter
    with pytest.raises(KycRefused) as caught:
        await _upload(services, kyc_org, user, fx.upload(old, signer=lapsed_signer()), pinned,
                      now=datetime.now(UTC) + timedelta(days=3))  # fmt: skip
    assert caught.value.reason == "too_old" and await _rows(services, kyc_org) == []


async def test_withdrawal_and_account_deletion_erase_the_record(
    services: Services, kyc_org: Organization, make_user: MakeUser, pinned: list[PinnedCertificate]
) -> None:
    first, second = await make_user(name=fx.NAME), await make_user(name=fx.NAME)
    for user in (first, second):
        await _upload(services, kyc_org, user, fx.upload(), pinned)
    assert await kyc.erase(services.db, kyc_org.id, first.id, audit.Actor("user", str(first.id)))
    assert not await kyc.erase(services.db, kyc_org.id, first.id, ADMIN)
    from namoid.accounts import users

    await users.delete(services.db, kyc_org.id, second.email, ADMIN, "test")
    assert await _rows(services, kyc_org) == []
    assert [a for a, _ in await _actions(services, kyc_org)].count("kyc.erased") == 2


async def test_a_changed_profile_name_stops_being_verified(
    services: Services, kyc_org: Organization, make_user: MakeUser, pinned: list[PinnedCertificate]
) -> None:
    user = await make_user(name="  testa   FIXTURE kumari ")
    await _upload(services, kyc_org, user, fx.upload(), pinned)
    async with services.db.tenant(kyc_org.id) as session:
        assert await kyc.verified_name(session, kyc_org.id, services.keyring, user) is not None
        user.name = "Someone Else"
        assert await kyc.verified_name(session, kyc_org.id, services.keyring, user) is None
        refreshed = await user_repo.get(session, kyc_org.id, user.id)
        assert refreshed is not None


def _expired() -> bytes:
    return fx.upload(signer=expired_signer())


def _stranger() -> bytes:
    now = datetime.now(UTC)
    return fx.upload(signer=fx.make_signer(now - timedelta(days=1), now + timedelta(days=9)))


def _tampered(old: bytes, new: bytes) -> Callable[[], bytes]:
    return lambda: fx.zipcrypto(fx.signed_xml().replace(old, new))


CODE, DIGEST = fx.SHARE_CODE, "invalid_signature"
BAD: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "wrong share code": (fx.upload, "0000", "bad_share_code"),
    "two entries": (lambda: fx.plain_zip({"a.xml": b"<a/>", "b.xml": b"<b/>"}), CODE, "bad_archive"),
    "a directory": (lambda: fx.plain_zip({"d/": b""}), CODE, "bad_archive"),
    "path traversal": (lambda: fx.plain_zip({"../x.xml": b"<a/>"}), CODE, "bad_archive"),
    "1 GB expansion": (fx.gigabyte_bomb, CODE, "too_large"),
    "billion laughs": (
        lambda: fx.zipcrypto(b'<!DOCTYPE l [<!ENTITY a "aa"><!ENTITY b "&a;&a;&a;">]><OfflinePaperlessKyc/>'),
        CODE, "dtd_refused",
    ),
    "external entity": (
        lambda: fx.zipcrypto(b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]><r>&x;</r>'),
        CODE, "dtd_refused",
    ),
    "tampered name": (_tampered(fx.NAME.encode(), b"Testa Fixture Kumaro"), CODE, DIGEST),
    "tampered date": (_tampered(b'dob="01-01-1990"', b'dob="01-01-1980"'), CODE, DIGEST),
    "tampered photo": (_tampered(b"<Pht>/9j", b"<Pht>/8j"), CODE, DIGEST),
    "unknown signer": (_stranger, CODE, "unknown_signer"),
    "expired signer certificate": (_expired, CODE, "signer_expired"),
    "signed before its certificate was valid": (
        lambda: fx.upload(signer=future_signer()), CODE, "signer_not_valid",
    ),
    "too old": (
        lambda: fx.upload(fx.Person(generated_at=datetime.now(UTC) - timedelta(days=4))),
        CODE, "too_old",
    ),
    "non-ZIP": (lambda: b"GIF89a definitely not a zip", CODE, "not_zip"),
    "empty": (lambda: b"", CODE, "empty"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
async def test_bad_input_is_refused_and_nothing_is_stored(
    case: str, services: Services, kyc_org: Organization, make_user: MakeUser, pinned: list[PinnedCertificate]
) -> None:
    make, share_code, reason = BAD[case]
    user = await make_user(name=fx.NAME)
    with pytest.raises(KycRefused) as caught:
        await _upload(services, kyc_org, user, make(), pinned, share_code)
    assert caught.value.reason == reason
    assert fx.NAME not in caught.value.message
    assert await _rows(services, kyc_org) == []
    assert await _actions(services, kyc_org) == [("kyc.started", STARTED), ("kyc.failed", {"reason": reason})]


async def test_an_org_without_kyc_refuses_uploads(
    services: Services, org: Organization, make_user: MakeUser, pinned: list[PinnedCertificate]
) -> None:
    user = await make_user(name=fx.NAME)
    with pytest.raises(KycRefused) as caught:
        await _upload(services, org, user, fx.upload(), pinned)
    assert caught.value.reason == "disabled"
    assert await _rows(services, org) == []
