"""Expiry sweeps (DESIGN.md §1): the worker deletes rows nobody can use any more, org by org.

A row goes a grace period (``GRACE``) after it expired or ended, not at once: a code or
refresh token presented again shortly after its expiry is still recognised as a replay
rather than as unknown. Used refresh tokens of a live family stay for the family's life,
since they are what detects a replay (DESIGN.md §3). A consumed token's successor response,
kept encrypted for its client's reuse window, is destroyed as soon as the window has closed
(no grace: nothing needs it after). Settled outbox rows are kept
``OUTBOX_RETENTION`` for inspection. Each org is swept in its own transaction, with one
``maintenance.swept`` audit entry when anything was deleted.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from namoid import audit
from namoid.privacy import export_jobs
from namoid.storage.db import Database
from namoid.storage.models import Organization
from namoid.storage.repos import (
    access_tokens,
    authorization_codes,
    authorization_requests,
    browser_sessions,
    event_outbox,
    otp_challenges,
    refresh_tokens,
    used_assertions,
)
from namoid.tenancy import organizations

GRACE = timedelta(days=1)
OUTBOX_RETENTION = timedelta(days=30)


async def sweep_org(db: Database, org_id: uuid.UUID, now: datetime) -> dict[str, int]:
    """Delete ``org_id``'s dead rows as of ``now``; the rows deleted per table (only non-zero)."""
    cutoff = now - GRACE
    async with db.tenant(org_id) as session:
        tokens, families = await refresh_tokens.delete_ended(session, org_id, cutoff)
        counts = {
            "authorization_requests": await authorization_requests.delete_expired(session, org_id, cutoff),
            "authorization_codes": await authorization_codes.delete_expired(session, org_id, cutoff),
            "browser_sessions": await browser_sessions.delete_ended(session, org_id, cutoff),
            "used_assertions": await used_assertions.delete_expired(session, org_id, cutoff),
            "access_tokens": await access_tokens.delete_expired(session, org_id, cutoff),
            "otp_challenges": await otp_challenges.delete_expired(session, org_id, cutoff),
            "refresh_tokens": tokens,
            "refresh_families": families,
            # Destroyed (set to NULL), not deleted: the consumed token itself stays.
            "refresh_tokens.successor_enc": await refresh_tokens.forget_successors(session, org_id, now),
            "event_outbox": await event_outbox.delete_settled_before(session, org_id, now - OUTBOX_RETENTION),
            # Destroyed (set to NULL) at once when nobody downloaded it in time; the job row stays.
            "data_exports.payload_enc": await export_jobs.expire_documents(session, org_id, now),
        }
        deleted = {table: count for table, count in counts.items() if count}
        if deleted:
            # Table names are values, not detail keys: keys naming tokens or codes are refused.
            await audit.record(
                session,
                org_id,
                actor=audit.WORKER,
                action="maintenance.swept",
                target_type="org",
                target_id=str(org_id),
                detail={"deleted": [{"table": table, "rows": count} for table, count in deleted.items()]},
            )
    return deleted


async def sweep(db: Database, now: datetime, orgs: Sequence[Organization] | None = None) -> dict[str, int]:
    """Sweep ``orgs`` (default: every org); the rows deleted per table, summed over the orgs."""
    totals: Counter[str] = Counter()
    for org in orgs if orgs is not None else await organizations.list_all(db):
        totals.update(await sweep_org(db, org.id, now))
    return dict(totals)
