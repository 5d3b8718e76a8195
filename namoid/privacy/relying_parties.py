"""What the user's relying parties hold: connected applications, consent history, access summary.

The account console and any API read these; none holds logic of its own (DESIGN.md §8).

The access summary (DPDP Act s.11(1)(b): the identities of the fiduciaries the data was
shared with, and what was shared) is derived from two append-only records, nothing new:
the consent ledger (which claims each grant covers, under which notice, when) and the
audit log's ``token.issued`` entries (each time a relying party received tokens for the
user: the ID token carries the claims, and the access token lets userinfo release the claims
of its scope until it expires or is revoked). A release is therefore dated when the tokens
were issued; userinfo calls within a token's lifetime are covered by that issuance and are
not recorded one by one (they are on the hot path). Look-back: one year, the audit retention.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.oauth.userinfo import claim_names
from namoid.privacy import consent_ledger
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, ConsentRecord, utcnow
from namoid.storage.repos import audit_log, clients, consent_records, consents

LOOK_BACK: Final = timedelta(days=365)


async def _client_names(session: AsyncSession, org_id: uuid.UUID, client_ids: set[str]) -> dict[str, str]:
    names = {}
    for client_id in client_ids:
        client = await clients.get(session, org_id, client_id)
        names[client_id] = client.name if client is not None else client_id
    return names


async def _issuances(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> Sequence[AuditEntry]:
    since = utcnow() - LOOK_BACK
    return await audit_log.list_for_target(session, org_id, "token.issued", ("user", str(user_id)), since)


def _grant_at(records: Sequence[ConsentRecord], entry: AuditEntry) -> ConsentRecord | None:
    """The client grant that stood when ``entry`` (a token issuance) happened, if one did."""
    standing = None
    for record in records:
        if record.occurred_at > entry.occurred_at:
            break
        if record.counterparty == entry.detail.get("client_id"):
            standing = record if record.event == "granted" else None
    return standing


async def connected_applications(db: Database, org_id: uuid.UUID, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """The relying parties the user's consent stands for: what each receives, since when, last use."""
    async with db.tenant(org_id) as session:
        standing = await consents.list_for_user(session, org_id, user_id)
        records = await consent_records.list_for_org(session, org_id, user_id=user_id)
        issued = await _issuances(session, org_id, user_id)
        names = await _client_names(session, org_id, {c.client_id for c in standing})
    applications = []
    for consent in standing:
        grants = [r for r in records if r.consent_id == consent.id and r.event == "granted"]
        uses = [e.occurred_at for e in issued if e.detail.get("client_id") == consent.client_id]
        uses = [at for at in uses if at >= consent.created_at]
        applications.append(
            {
                "consent_id": str(consent.id),
                "client_id": consent.client_id,
                "client_name": names[consent.client_id],
                "scopes": list(consent.scopes),
                "claims": list(grants[-1].claims or ()) if grants else claim_names(consent.scopes),
                "granted_at": (grants[0].occurred_at if grants else consent.created_at).isoformat(),
                "notice_version": consent.notice_version,
                "first_issued_at": uses[0].isoformat() if uses else None,
                "last_issued_at": uses[-1].isoformat() if uses else None,
                "status": "active",
            }
        )
    return applications


async def consent_history(db: Database, org_id: uuid.UUID, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every consent-ledger record of the user (relying parties and upstream providers), oldest first."""
    async with db.tenant(org_id) as session:
        records = await consent_records.list_for_org(session, org_id, user_id=user_id)
        names = await _client_names(
            session, org_id, {r.counterparty for r in records if r.kind == "client_grant"}
        )
    return [
        {**consent_ledger.summary(r), "counterparty_name": names.get(r.counterparty, r.counterparty)}
        for r in records
    ]


async def access_summary(db: Database, org_id: uuid.UUID, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """DPDP s.11: per relying party, which claims it received, when, and under which consent."""
    async with db.tenant(org_id) as session:
        records = await consent_records.list_for_org(session, org_id, user_id=user_id)
        records = [r for r in records if r.kind == "client_grant"]
        issued = await _issuances(session, org_id, user_id)
        client_ids = {r.counterparty for r in records} | {str(e.detail.get("client_id")) for e in issued}
        names = await _client_names(session, org_id, client_ids)
    summary: dict[str, dict[str, Any]] = {}
    for entry in issued:
        client_id = str(entry.detail.get("client_id"))
        grant = _grant_at(records, entry)
        scopes = str(entry.detail.get("scope", "")).split()
        party = summary.setdefault(client_id, {"client_id": client_id, "client_name": names[client_id]})
        party.setdefault("releases", []).append(
            {
                "at": entry.occurred_at.isoformat(),
                "claims": claim_names(scopes),
                "scopes": scopes,
                "grant": entry.detail.get("grant"),
                "consent_id": str(grant.consent_id) if grant is not None else None,
                "notice_version": grant.notice_version if grant is not None else None,
            }
        )
    for record in records:
        party = summary.setdefault(
            record.counterparty, {"client_id": record.counterparty, "client_name": names[record.counterparty]}
        )
        party.setdefault("consents", []).append(consent_ledger.summary(record))
    return [{"releases": [], "consents": [], **party} for party in summary.values()]
