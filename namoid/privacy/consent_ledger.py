"""The one consent ledger (DESIGN.md §8): who consented to what, when, from where, and its end.

Connections to upstream providers (``provider_connection``) and grants to relying parties
(``client_grant``) share one append-only record shape. A grant is one record; its
withdrawal is a second record with the same ``consent_id``, never an update. The time
is UTC; the IP address and user agent come from the request that caused it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Final, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.audit import request_meta_var
from namoid.privacy.registry import (
    STRING,
    STRINGS,
    TIME,
    UUID,
    DataPrincipal,
    Erasure,
    Json,
    Section,
    array_of,
    nullable,
    obj,
)
from namoid.storage.db import Database
from namoid.storage.models import ConsentRecord, utcnow
from namoid.storage.repos import consent_records, personal_data

ConsentKind = Literal["provider_connection", "client_grant"]
KINDS: Final = ("provider_connection", "client_grant")


async def record_grant(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    consent_id: uuid.UUID,
    kind: ConsentKind,
    user_id: uuid.UUID,
    counterparty: str,
    purposes: Sequence[str],
    scopes: Sequence[str],
    notice_version: str,
    action: str,
    claims: Sequence[str] = (),
    notice_hash: str | None = None,
    language: str | None = None,
) -> ConsentRecord:
    """Append a grant in the caller's transaction (with the change it permits).

    ``action`` is the affirmative action that gave it (what the user did, or that it was
    implied, said plainly); ``claims`` the itemised claims it releases; ``notice_hash`` and
    ``language`` identify the exact notice text shown (namoid.privacy.notices).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown consent kind {kind!r}")
    meta = request_meta_var.get()
    record = ConsentRecord(
        consent_id=consent_id,
        kind=kind,
        event="granted",
        user_id=user_id,
        counterparty=counterparty,
        purposes=list(purposes),
        scopes=list(scopes),
        claims=list(claims),
        notice_version=notice_version,
        notice_hash=notice_hash,
        language=language,
        action=action,
        occurred_at=utcnow(),
        ip=meta.ip if meta else None,
        user_agent=meta.user_agent if meta else None,
    )
    return await consent_records.append(session, org_id, record)


async def record_withdrawal(
    session: AsyncSession, org_id: uuid.UUID, consent_id: uuid.UUID, *, by: str, action: str | None = None
) -> ConsentRecord | None:
    """Append the withdrawal of a standing grant; None if it was never granted or already ended.

    ``action`` says how it was withdrawn (e.g. ``console_button``, ``api_delete``)."""
    last = await consent_records.latest_for_consent(session, org_id, consent_id)
    if last is None or last.event != "granted":
        return None
    meta = request_meta_var.get()
    record = ConsentRecord(
        consent_id=consent_id,
        kind=last.kind,
        event="withdrawn",
        user_id=last.user_id,
        counterparty=last.counterparty,
        purposes=list(last.purposes),
        scopes=list(last.scopes),
        claims=list(last.claims or ()),
        notice_version=last.notice_version,
        notice_hash=last.notice_hash,
        language=last.language,
        action=action,
        occurred_at=utcnow(),
        ip=meta.ip if meta else None,
        user_agent=meta.user_agent if meta else None,
        withdrawn_by=by,
    )
    return await consent_records.append(session, org_id, record)


async def latest(session: AsyncSession, org_id: uuid.UUID, consent_id: uuid.UUID) -> ConsentRecord | None:
    """The consent's newest record: its standing grant, or its withdrawal."""
    return await consent_records.latest_for_consent(session, org_id, consent_id)


async def list_records(
    db: Database, org_id: uuid.UUID, *, user_id: uuid.UUID | None = None
) -> Sequence[ConsentRecord]:
    async with db.tenant(org_id) as session:
        return await consent_records.list_for_org(session, org_id, user_id=user_id)


def summary(record: ConsentRecord) -> dict[str, object]:
    """One record as JSON (the CLI, the account console, the data export)."""
    return {
        "consent_id": str(record.consent_id),
        "kind": record.kind,
        "event": record.event,
        "user_id": str(record.user_id),
        "counterparty": record.counterparty,
        "purposes": record.purposes,
        "scopes": record.scopes,
        "claims": record.claims or [],
        "notice_version": record.notice_version,
        "notice_sha256": record.notice_hash,
        "language": record.language,
        "action": record.action,
        "status": "active" if record.event == "granted" else "withdrawn",
        "occurred_at": record.occurred_at.isoformat(),
        "ip": record.ip,
        "user_agent": record.user_agent,
        "withdrawn_by": record.withdrawn_by,
    }


async def _export(session: AsyncSession, who: DataPrincipal) -> Json:
    rows = await personal_data.rows_of_user(
        session, who.org_id, ConsentRecord.user_id, who.user_id, ConsentRecord.seq
    )
    return [summary(row) for row in rows]


#: The ledger's part of the data export (DESIGN.md §8).
SECTION: Final = Section(
    name="consent_records",
    title="Consent history",
    tables=("consent_records",),
    schema=array_of(
        obj(
            consent_id=UUID,
            kind={"enum": list(KINDS)},
            event={"enum": ["granted", "withdrawn"]},
            user_id=UUID,
            counterparty=STRING,
            purposes=STRINGS,
            scopes=STRINGS,
            claims=STRINGS,
            notice_version=nullable(STRING),
            notice_sha256=nullable(STRING),
            language=nullable(STRING),
            action=nullable(STRING),
            status={"enum": ["active", "withdrawn"]},
            occurred_at=TIME,
            ip=nullable(STRING),
            user_agent=nullable(STRING),
            withdrawn_by=nullable(STRING),
        )
    ),
    export=_export,
    #: Append-only like the audit log; the records name the user by opaque id only.
    erasure=Erasure(
        "retain",
        legal_basis=(
            "proof of consent and its withdrawal (DPDP Act 2023 s.6(10): the burden of proof is on "
            "the Data Fiduciary), opaque user id only"
        ),
    ),
)
