"""What an org's admin dashboard shows (issue 16): sign-ins and failures per day from the audit
log, lockouts and the latest security events. Read-only; an org sees only its own rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from namoid.storage.db import Database
from namoid.storage.models import SecurityEvent
from namoid.storage.repos import audit_log, security_events

SIGNED_IN, FAILED = "login.succeeded", "login.failed"
#: The security event raised when an account's sign-ins are locked (``accounts.login``).
LOCKOUT = "login.bruteforce_suspected"
RECENT_EVENTS = 20


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    signed_in: int
    failed: int


@dataclass(frozen=True, slots=True)
class Summary:
    days: list[Day]
    #: Accounts locked (brute force suspected) in the last 24 hours.
    lockouts: list[SecurityEvent]
    recent_events: Sequence[SecurityEvent]


async def summary(db: Database, org_id: uuid.UUID, now: datetime, days: int = 14) -> Summary:
    """The last ``days`` UTC days of sign-ins (oldest first), the last day's lockouts and the
    org's most recent security events."""
    first = now.date() - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    async with db.tenant(org_id) as session:
        counts = await audit_log.count_by_day(session, org_id, (SIGNED_IN, FAILED), since)
        recent = await security_events.list_recent(session, org_id, limit=100)
    found = {(day, action): count for day, action, count in counts}
    series = [first + timedelta(days=offset) for offset in range(days)]
    rows = [
        Day(d, found.get((d.isoformat(), SIGNED_IN), 0), found.get((d.isoformat(), FAILED), 0))
        for d in series
    ]
    locked = [e for e in recent if e.name == LOCKOUT and e.occurred_at >= now - timedelta(hours=24)]
    return Summary(rows, locked, recent[:RECENT_EVENTS])
