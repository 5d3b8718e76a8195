"""Aadhaar offline KYC as a service: verify an upload in memory, keep the masked record.

Called by the console page, the org API (``namoid.web.kyc_api``) and the CLI alike
(DESIGN.md §8). What is kept is exactly ``KycRecord``; the XML, photo, name and full
reference id live only in this request's memory. Audit entries name the step and a result
or reason class, never data: ``kyc.started``, ``kyc.verified`` (result), ``kyc.failed``
(reason), ``kyc.erased``; an upload through the org API also names its ``client_id``.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.crypto.certificates import PinnedCertificate
from namoid.crypto.keyring import Keyring
from namoid.crypto.name_mac import name_mac, name_mac_matches
from namoid.kyc import offline_ekyc, signature, trust
from namoid.kyc.errors import KycRefused
from namoid.storage.db import Database
from namoid.storage.models import KycPolicy, KycRecord, User
from namoid.storage.repos import kyc as kyc_repo

MAX_AGE_DAYS_BOUNDS = (1, 365)
#: The version of the consent notice an upload is made under (shown on the page, audited with
#: ``kyc.started``: UIDAI's OVSE guidance asks for explicit consent on record). Change it with
#: the notice's text.
CONSENT_NOTICE = "okyc-notice-v1"
#: Generation times this far ahead of our clock are tolerated (clock skew), no more.
FUTURE_SKEW = timedelta(minutes=5)
_SPACES = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """NFC, case-folded, inner whitespace collapsed: the form whose HMAC is stored."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name).casefold()).strip()


@dataclass(frozen=True, slots=True)
class Upload:
    """One resident's upload (held in memory only)."""

    zip_bytes: bytes
    share_code: str


@dataclass(frozen=True, slots=True)
class Checked:
    """A verified document (in memory), its signer's fingerprint and standing (``trust``)."""

    document: offline_ekyc.OfflineKyc
    signer_sha256: str
    standing: trust.Standing


def check(upload: Upload, pinned: Sequence[PinnedCertificate], max_age_days: int, now: datetime) -> Checked:
    """The verified document with its signer; KycRefused otherwise."""
    xml = offline_ekyc.open_zip(upload.zip_bytes, upload.share_code)
    root = offline_ekyc.parse_xml(xml)
    generated_at = offline_ekyc.generation_time(root)
    verified = signature.verify(xml, pinned, generated_at)
    if verified.result == "unknown_signer":
        raise KycRefused("unknown_signer")
    if verified.result != "valid" or verified.signed_root is None or verified.signer is None:
        raise KycRefused("invalid_signature")
    standing = trust.signer_standing(verified.signer, generated_at)
    if standing is None:
        expired = generated_at > verified.signer.not_after
        raise KycRefused("signer_expired" if expired else "signer_not_valid")
    document = offline_ekyc.extract(verified.signed_root)
    if document.generated_at > now + FUTURE_SKEW:
        raise KycRefused("future_dated")
    if now - document.generated_at > timedelta(days=max_age_days):
        raise KycRefused("too_old")
    return Checked(document, verified.signer.sha256, standing)


def _enabled(policy: KycPolicy | None) -> KycPolicy:
    if policy is None or not policy.enabled:
        raise KycRefused("disabled")
    return policy


async def policy_for(db: Database, org_id: uuid.UUID) -> KycPolicy | None:
    async with db.tenant(org_id) as session:
        return await kyc_repo.get_policy(session, org_id)


def _via(client_id: str | None) -> dict[str, str]:
    """The audit detail naming the relying party that uploaded for the user (the org API)."""
    return {"client_id": client_id} if client_id else {}


async def _record_failure(
    db: Database, org_id: uuid.UUID, user_id: uuid.UUID, actor: audit.Actor, reason: str, via: str | None
) -> None:
    async with db.tenant(org_id) as session:
        await _started(session, org_id, user_id, actor, via)
        await audit.record(
            session, org_id, actor=actor, action="kyc.failed", target_type="user",
            target_id=str(user_id), outcome="failure", detail={"reason": reason, **_via(via)},
        )  # fmt: skip


async def _started(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, actor: audit.Actor, via: str | None
) -> None:
    await audit.record(
        session, org_id, actor=actor, action="kyc.started", target_type="user", target_id=str(user_id),
        detail={"consent_notice": CONSENT_NOTICE, **_via(via)},
    )  # fmt: skip


async def verify_upload(
    db: Database,
    keyring: Keyring,
    pinned: Sequence[PinnedCertificate],
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    upload: Upload,
    actor: audit.Actor,
    now: datetime | None = None,
    via_client: str | None = None,
) -> KycRecord:
    """Verify ``upload`` for the user and store the masked record (replacing an older one).

    ``via_client``: the relying party that uploaded with the user's ``kyc``-scoped token (the
    org API), named in the audit details. KycRefused (after auditing the reason class) if the
    org has KYC off or the file fails any check; then nothing is stored.
    """
    now = now or datetime.now(UTC)
    try:
        policy = _enabled(await policy_for(db, org_id))
        checked = check(upload, pinned, policy.max_age_days, now)
    except KycRefused as refused:
        await _record_failure(db, org_id, user_id, actor, refused.reason, via_client)
        raise
    document = checked.document
    record = KycRecord(
        user_id=user_id,
        last4=document.last4,
        name_mac=name_mac(keyring.pepper, org_id, normalise_name(document.name)),
        result="valid",
        signer_sha256=checked.signer_sha256,
        signer_standing=checked.standing,
        generated_at=document.generated_at.astimezone(UTC),
        verified_at=now,
    )
    async with db.tenant(org_id) as session:
        await _started(session, org_id, user_id, actor, via_client)
        await kyc_repo.put_record(session, org_id, record)
        await audit.record(
            session, org_id, actor=actor, action="kyc.verified", target_type="user",
            target_id=str(user_id),
            detail={"result": record.result, "signer": checked.standing, **_via(via_client)},
        )  # fmt: skip
    return record


async def erase_in(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, actor: audit.Actor) -> bool:
    """Delete the user's record in the caller's transaction (withdrawal, account deletion)."""
    if not await kyc_repo.delete_record(session, org_id, user_id):
        return False
    await audit.record(
        session, org_id, actor=actor, action="kyc.erased", target_type="user", target_id=str(user_id)
    )
    return True


async def erase(db: Database, org_id: uuid.UUID, user_id: uuid.UUID, actor: audit.Actor) -> bool:
    async with db.tenant(org_id) as session:
        return await erase_in(session, org_id, user_id, actor)


async def set_policy(
    db: Database, org_id: uuid.UUID, enabled: bool, max_age_days: int | None, actor: audit.Actor
) -> KycPolicy:
    """Turn offline KYC on or off for an org, optionally with a new maximum file age (audited)."""
    async with db.tenant(org_id) as session:
        current = await kyc_repo.get_policy(session, org_id)
        days = max_age_days if max_age_days is not None else (current.max_age_days if current else 3)
        low, high = MAX_AGE_DAYS_BOUNDS
        if not low <= days <= high:
            raise ValueError(f"max age must be {low} to {high} days")
        policy = await kyc_repo.set_policy(session, org_id, enabled, days)
        await audit.record(
            session, org_id, actor=actor, action="org.kyc_changed", target_type="org",
            target_id=str(org_id), detail={"enabled": enabled, "max_age_days": days},
        )  # fmt: skip
    return policy


async def verified_name(
    session: AsyncSession, org_id: uuid.UUID, keyring: Keyring, user: User
) -> KycRecord | None:
    """The user's record, only while their CURRENT profile name still matches its name HMAC."""
    if not user.name:
        return None
    record = await kyc_repo.get_record(session, org_id, user.id)
    if record is None or record.result != "valid":
        return None
    matches = name_mac_matches(keyring.pepper, org_id, normalise_name(user.name), record.name_mac)
    return record if matches else None
