"""Audit retention (DESIGN.md §5): the one way entries leave the log.

For each org, sealed entries older than its retention period are removed, and only by
this job, which first records the run (``audit_retention``, which the delete trigger
requires) and an ``audit.retention_pruned`` entry naming the range and the chain head,
so the chain stays verifiable: the removed entries' seals stay. It needs the schema
owner's connection; the app role cannot delete audit rows at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from namoid import audit
from namoid.audit.chain import chain_name
from namoid.settings import Settings
from namoid.storage.db import Database
from namoid.storage.models import Organization, utcnow
from namoid.storage.repos import audit_chain, organizations
from namoid.tenancy import organizations as tenancy

MIN_DAYS = 30
MAX_DAYS = 3650
_SYSTEM = audit.Actor("system", "retention")


@dataclass(frozen=True, slots=True)
class Pruned:
    org: str
    up_to_seq: int
    removed: int


def validate_days(days: int) -> int:
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"audit retention must be {MIN_DAYS}-{MAX_DAYS} days")
    return days


async def set_retention(db: Database, org: Organization, days: int, actor: audit.Actor) -> None:
    days = validate_days(days)
    async with db.tenant(org.id) as session:
        await organizations.set_audit_retention(session, org.id, days)
        await audit.record(
            session,
            org.id,
            actor=actor,
            action="org.audit_retention_set",
            target_type="org",
            target_id=org.slug,
            detail={"days": days, "was": org.audit_retention_days},
        )


async def prune(owner_db: Database, org: Organization, now: datetime | None = None) -> Pruned | None:
    """Remove ``org``'s sealed entries older than its retention period; None if nothing is due."""
    before = (now or utcnow()) - timedelta(days=org.audit_retention_days)
    async with owner_db.tenant(org.id) as session:
        up_to, count = await audit_chain.last_sealed_before(session, org.id, before)
        if count == 0:
            return None
        head = await audit_chain.head(session, org.id)
        await audit_chain.record_retention(
            session, org.id, chain=chain_name(org.id), up_to_seq=up_to, before=before, removed=count
        )
        await audit.record(
            session,
            org.id,
            actor=_SYSTEM,
            action="audit.retention_pruned",
            target_type="audit_log",
            target_id=chain_name(org.id),
            detail={
                "up_to_seq": up_to,
                "removed": count,
                "before": before.isoformat(),
                "chain_position": head.position if head else -1,
                "chain_head": head.hash if head else None,
            },
        )
        removed = await audit_chain.delete_sealed_up_to(session, org.id, up_to, before)
    return Pruned(org.slug, up_to, removed)


def owner_url(settings: Settings) -> str:
    """The schema owner's database URL, which retention needs (on SQLite there is only one)."""
    if settings.migration_database_url:
        return settings.migration_database_url
    if not settings.is_postgres:
        return settings.resolved_database_url
    raise ValueError("audit retention needs the schema owner: set NAMOID_MIGRATION_DATABASE_URL")


async def prune_all(settings: Settings, db: Database, now: datetime | None = None) -> list[Pruned]:
    """One retention run over every org, as the schema owner."""
    owner = Database(owner_url(settings))
    try:
        return [
            pruned
            for org in await tenancy.list_all(db)
            if (pruned := await prune(owner, org, now)) is not None
        ]
    finally:
        await owner.dispose()
