"""Grants to relying parties: remembered consent plus its consent-ledger record, in one transaction.

Every grant (DPDP Act s.6(1), s.6(10): the fiduciary must be able to prove consent) appends a
``client_grant`` record: consent id, user, client, purposes, itemised scopes and claims, the
notice version and SHA-256 shown, language, UTC time, IP, user agent and the affirmative action.
A first-party client is not asked (OIDC Core §3.1.2.4 lets the OP decide); its grant is still
recorded, with the action ``implied_first_party``. A remembered consent stands only under the
notice version it was given under: a newer notice asks again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.oauth.userinfo import claim_names
from namoid.privacy import consent_ledger, notices
from namoid.storage.models import Client, Consent
from namoid.storage.repos import consents

CLICKED_ALLOW: Final = "clicked_allow"
IMPLIED_FIRST_PARTY: Final = "implied_first_party"


def purposes(scopes: Sequence[str]) -> list[str]:
    """Why the claims go to the client: signing in, sharing profile claims, staying connected."""
    found = ["sign_in"]
    if set(scopes) - {"openid", "offline_access"}:
        found.append("share_profile")
    if "offline_access" in scopes:
        found.append("access_while_away")
    return found


async def standing_scopes(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, client_id: str
) -> list[str] | None:
    """The scopes the user's remembered consent grants the client, or None when there is none
    or it was given under a notice version that is no longer current."""
    consent = await consents.get(session, org_id, user_id, client_id)
    if consent is None or consent.notice_language not in notices.LANGUAGES:
        return None
    shown = await notices.current(session, org_id, consent.notice_language or "")
    return consent.scopes if consent.notice_version == shown.version else None


async def record(
    session: AsyncSession,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    client: Client,
    scopes: Sequence[str],
    notice: notices.NoticeText,
    *,
    action: str,
    verified_claims: Sequence[str] = (),
) -> Consent:
    """Remember the grant and append its ledger record and audit entry (caller's transaction)."""
    consent = await consents.grant(
        session, org_id, user_id, client.client_id, scopes, (notice.language, notice.version)
    )
    await consent_ledger.record_grant(
        session,
        org_id,
        consent_id=consent.id,
        kind="client_grant",
        user_id=user_id,
        counterparty=client.client_id,
        purposes=purposes(consent.scopes),
        scopes=consent.scopes,
        claims=claim_names(consent.scopes, verified_claims),
        notice_version=notice.version,
        notice_hash=notice.sha256,
        language=notice.language,
        action=action,
    )
    await audit.record(
        session,
        org_id,
        actor=audit.Actor("user", str(user_id)),
        action="consent.granted",
        target_type="client",
        target_id=client.client_id,
        detail={
            "scope": " ".join(scopes),
            "consent_id": str(consent.id),
            "notice_version": notice.version,
            "language": notice.language,
            "how": action,
        },
    )
    return consent


async def imply_first_party(
    session: AsyncSession,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    client: Client,
    scopes: Sequence[str],
    language: str,
) -> None:
    """Record a first-party client's implied grant, unless one already covers ``scopes`` under
    the current notice."""
    standing = await standing_scopes(session, org_id, user_id, client.client_id)
    if standing is not None and set(scopes) <= set(standing):
        return
    notice = await notices.current(session, org_id, language)
    await record(session, org_id, user_id, client, scopes, notice, action=IMPLIED_FIRST_PARTY)
