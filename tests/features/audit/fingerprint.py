"""What an organization's data looks like, as one comparable value (for the completeness tests)."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import select

from namoid.storage.db import Database
from namoid.storage.models import Base

#: The audit log's own tables: writing them is what is being checked, not a change to check.
AUDIT_TABLES = {"audit_log", "audit_seals", "audit_checkpoints", "audit_retention"}


async def fingerprint(owner_db: Database, org_id: uuid.UUID | None) -> dict[str, str]:
    """A digest of every row of ``org_id`` (None: of every org) in every table but the audit log's own."""
    digests: dict[str, str] = {}
    async with owner_db.system() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in AUDIT_TABLES:
                continue
            column = table.c.id if table.name == "organizations" else table.c.get("org_id")
            if column is None:
                continue
            query = select(table).order_by(*table.primary_key.columns)
            if org_id is not None:
                query = query.where(column == org_id)
            rows = (await session.execute(query)).all()
            digests[table.name] = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()
    return digests


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in after if before.get(name) != after[name])
