"""Data exports as jobs (issue 13): request, produce (the worker), one single-use link, destroy.

Every export is a ``data_exports`` row. Asking for one (the account console, ``request``) only
records the job; the worker produces it (``produce_pending``; in embedded mode the server's
own worker task), so a large account never holds a request open. The document is stored as
a keyring envelope bound to the org, the user and the row (DESIGN.md §4) for ``DOCUMENT_TTL``.
A download link is minted on demand (``issue_link``): a random token stored only as SHA-256,
valid ``LINK_TTL``, good for one download, after which the document is destroyed; the sweep
destroys documents nobody fetched. One export per user at a time. Each step is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.crypto.keyring import Keyring, KeyringError, aad_for
from namoid.crypto.secrets import new_token, sha256_hex
from namoid.privacy import export
from namoid.privacy.registry import DataPrincipal
from namoid.storage.db import Database
from namoid.storage.models import DataExport, Organization, utcnow
from namoid.storage.repos import data_exports, organizations, users

#: How long a produced document waits to be downloaded before the sweep destroys it.
DOCUMENT_TTL: Final = timedelta(hours=24)
#: How long a download link works (once).
LINK_TTL: Final = timedelta(minutes=10)
#: Production attempts before the job is marked failed (a broken section must not loop forever).
MAX_ATTEMPTS: Final = 3
TABLE: Final = "data_exports"
COLUMN: Final = "payload_enc"

Refusal = Literal[
    "no_account", "running", "ready", "not_ready", "link_unknown", "link_used", "link_expired", "unreadable"
]
MESSAGES: Final[dict[Refusal, str]] = {
    "no_account": "There is no such account.",
    "running": "An export of this account is already being prepared. It will be ready shortly.",
    "ready": "An export of this account is ready to download: fetch it (or let it expire) first.",
    "not_ready": "There is no export ready to download.",
    "link_unknown": "This download link is not valid.",
    "link_used": "This download link was already used. Ask for a new export.",
    "link_expired": "This download link has expired. Ask for a new link or a new export.",
    "unreadable": "This export could not be read and was deleted. Ask for a new export.",
}


class ExportRefused(ValueError):
    """A refused export step; nothing was changed (the refusal of a link is audited)."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(MESSAGES[reason])
        self.reason: Refusal = reason


@dataclass(frozen=True, slots=True)
class DownloadLink:
    token: str
    expires_at: datetime


def row_binding(user_id: uuid.UUID, export_id: uuid.UUID) -> str:
    """The row part of the document's associated data: the row and its user."""
    return f"{export_id}/user={user_id}"


def _aad(org_id: uuid.UUID, user_id: uuid.UUID, export_id: uuid.UUID) -> bytes:
    return aad_for(TABLE, COLUMN, str(org_id), row_binding(user_id, export_id))


def _user_actor(user_id: uuid.UUID) -> audit.Actor:
    return audit.Actor("user", str(user_id))


async def _live_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    user = await users.get(session, org_id, user_id)
    if user is None or user.deleted_at is not None:
        raise ExportRefused("no_account")


async def request(
    db: Database, org_id: uuid.UUID, user_id: uuid.UUID, actor: audit.Actor, now: datetime | None = None
) -> DataExport:
    """Record an export job for the worker; refused while another export of the user is under way."""
    moment = now or utcnow()
    try:
        async with db.tenant(org_id) as session:
            await _live_user(session, org_id, user_id)
            current = await data_exports.active_for_user(session, org_id, user_id)
            if current is not None:
                raise ExportRefused("running" if current.status == "pending" else "ready")
            row = await data_exports.add(
                session,
                org_id,
                DataExport(
                    user_id=user_id, active_user_id=user_id, requested_by=actor.type, requested_at=moment
                ),
            )
            await audit.record(
                session,
                org_id,
                actor=actor,
                action="privacy.export_requested",
                target_type="user",
                target_id=str(user_id),
                detail={"export": str(row.id)},
            )
            return row
    except IntegrityError as exc:  # a concurrent request won the one-at-a-time constraint
        raise ExportRefused("running") from exc


async def _produce(
    db: Database, keyring: Keyring, org: Organization, export_id: uuid.UUID, now: datetime
) -> bool:
    async with db.tenant(org.id) as session:
        row = await data_exports.get(session, org.id, export_id)
        if row is None or not await data_exports.claim(session, org.id, export_id):
            return False  # another worker produced it meanwhile
        user = await users.get(session, org.id, row.user_id)
        if user is None or user.deleted_at is not None:  # deleted meanwhile: nothing to hand out
            await _fail(session, row, now, "account_deleted")
            return False
        who = DataPrincipal(org.id, row.user_id, now)
        body = export.encode(await export.build(session, org, who))
        sealed = keyring.encrypt(body, _aad(org.id, row.user_id, export_id))
        await data_exports.store(
            session,
            org.id,
            export_id,
            payload_enc=sealed,
            size=len(body),
            now=now,
            expires_at=now + DOCUMENT_TTL,
        )
        await audit.record(
            session,
            org.id,
            actor=audit.WORKER,
            action="privacy.export_produced",
            target_type="user",
            target_id=str(row.user_id),
            detail={"export": str(export_id), "kib": len(body) // 1024},
        )
    return True


async def _fail(session: AsyncSession, row: DataExport, now: datetime, reason: str) -> None:
    """End a pending job for good (audited): the user may ask again."""
    if await data_exports.fail(session, row.org_id, row.id, now):
        await audit.record(
            session,
            row.org_id,
            actor=audit.WORKER,
            action="privacy.export_failed",
            target_type="user",
            target_id=str(row.user_id),
            outcome="failure",
            detail={"export": str(row.id), "reason": reason, "attempts": row.attempts},
        )


async def _count_failure(db: Database, org_id: uuid.UUID, export_id: uuid.UUID, now: datetime) -> None:
    """Count the failed attempt (its transaction rolled back); fail the job after ``MAX_ATTEMPTS``."""
    async with db.tenant(org_id) as session:
        row = await data_exports.get(session, org_id, export_id)
        if row is None or not await data_exports.claim(session, org_id, export_id):
            return
        await session.refresh(row)  # the attempts counted so far, this one included
        if row.attempts >= MAX_ATTEMPTS:
            await _fail(session, row, now, "attempts_exhausted")


async def produce_pending(db: Database, keyring: Keyring, org: Organization, now: datetime) -> dict[str, int]:
    """Produce the org's pending exports (the worker); how many were produced and failed."""
    async with db.tenant(org.id) as session:
        pending = await data_exports.pending_ids(session, org.id)
    produced = failed = 0
    for export_id in pending:
        try:
            produced += await _produce(db, keyring, org, export_id, now)
        except Exception:  # the job stays pending for another attempt, up to MAX_ATTEMPTS
            failed += 1
            await _count_failure(db, org.id, export_id, now)
    return {"produced": produced, "failed": failed}


async def latest(db: Database, org_id: uuid.UUID, user_id: uuid.UUID) -> DataExport | None:
    """The user's most recent export (its status for the console)."""
    async with db.tenant(org_id) as session:
        return await data_exports.latest_for_user(session, org_id, user_id)


async def issue_link(
    db: Database, org_id: uuid.UUID, user_id: uuid.UUID, now: datetime | None = None
) -> DownloadLink:
    """A new single-use link to the user's ready export (any earlier link stops working)."""
    moment = now or utcnow()
    token = new_token()
    expires_at = moment + LINK_TTL
    async with db.tenant(org_id) as session:
        row = await data_exports.active_for_user(session, org_id, user_id)
        if row is None or row.status != "ready" or row.expires_at is None or row.expires_at <= moment:
            raise ExportRefused("not_ready")
        if not await data_exports.set_link(session, org_id, row.id, sha256_hex(token), expires_at):
            raise ExportRefused("not_ready")
        await audit.record(
            session,
            org_id,
            actor=_user_actor(user_id),
            action="privacy.export_link_issued",
            target_type="user",
            target_id=str(user_id),
            detail={"export": str(row.id), "expires_at": expires_at.isoformat()},
        )
    return DownloadLink(token, expires_at)


def _open(keyring: Keyring, row: DataExport) -> bytes | None:
    """The stored document, or None if it does not decrypt where it is."""
    if row.payload_enc is None:
        return None
    try:
        return keyring.decrypt(row.payload_enc, _aad(row.org_id, row.user_id, row.id))
    except KeyringError:
        return None


def _refusal(row: DataExport | None, user_id: uuid.UUID | None, now: datetime) -> Refusal | None:
    if row is None or (user_id is not None and row.user_id != user_id):
        return "link_unknown"
    if row.status != "ready":
        return "link_used" if row.downloaded_at is not None else "link_expired"
    deadlines = (row.link_expires_at, row.expires_at)
    return "link_expired" if any(d is None or d <= now for d in deadlines) else None


async def download(
    db: Database,
    keyring: Keyring,
    org_id: uuid.UUID,
    token: str,
    *,
    user_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> bytes:
    """The document behind a link, once; it is destroyed in the same transaction.

    ``user_id`` (the signed-in user, when there is one) must own the export. A refused link is
    audited (outcome ``denied``) and changes nothing else.
    """
    moment = now or utcnow()
    async with db.tenant(org_id) as session:
        row = await data_exports.find_by_link(session, org_id, sha256_hex(token))
        reason = _refusal(row, user_id, moment)
        if reason is None and row is not None:
            body = _open(keyring, row)
            if body is None:  # tampered with, or moved: useless, so it goes now
                reason = "unreadable"
                await data_exports.discard(session, org_id, row.id, moment)
            elif await data_exports.take(session, org_id, row.id, moment):
                await audit.record(
                    session,
                    org_id,
                    actor=_user_actor(row.user_id),
                    action="privacy.export_downloaded",
                    target_type="user",
                    target_id=str(row.user_id),
                    detail={"export": str(row.id), "kib": len(body) // 1024},
                )
                return body
            else:
                reason = "link_used"  # a concurrent download took it first
        refused: Refusal = reason if reason is not None else "link_unknown"
        await audit.record(
            session,
            org_id,
            actor=_user_actor(user_id) if user_id else audit.Actor("user"),
            action="privacy.export_download_refused",
            target_type="user",
            target_id=str(row.user_id) if row is not None and refused != "link_unknown" else None,
            outcome="denied",
            detail={"reason": refused},
        )
    raise ExportRefused(refused)


async def export_now(
    db: Database, org_id: uuid.UUID, user_id: uuid.UUID, actor: audit.Actor, now: datetime | None = None
) -> bytes:
    """The document at once, for an operator (``namoid user export``); audited, nothing stored."""
    moment = now or utcnow()
    async with db.tenant(org_id) as session:
        await _live_user(session, org_id, user_id)
        org = await organizations.get(session, org_id)
        if org is None:
            raise ExportRefused("no_account")
        body = export.encode(await export.build(session, org, DataPrincipal(org_id, user_id, moment)))
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="privacy.exported",
            target_type="user",
            target_id=str(user_id),
            detail={"kib": len(body) // 1024},
        )
    return body


async def expire_documents(session: AsyncSession, org_id: uuid.UUID, now: datetime) -> int:
    """Destroy the documents nobody downloaded in time (the expiry sweep)."""
    return await data_exports.expire(session, org_id, now)
