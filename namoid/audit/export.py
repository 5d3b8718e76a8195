"""An org's audit log as JSON Lines, each entry with its seal (streamed, constant memory).

``page()`` is the query layer: a filtered page in chain order plus an opaque cursor for
the next one (sealed entries by chain position, then the not-yet-sealed tail by ``seq``),
so an admin API can serve the same stream with cursor pagination.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from namoid.audit.chain import entry_dict
from namoid.audit.sealing import chain_session
from namoid.storage.db import Database
from namoid.storage.models import AuditSeal
from namoid.storage.repos import audit_chain
from namoid.storage.repos.audit_chain import AuditFilter

PAGE = 2000


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _seal(seal: AuditSeal) -> dict[str, Any]:
    return {
        "position": seal.position,
        "prev_hash": seal.prev_hash,
        "hash": seal.hash,
        "content_hash": seal.content_hash,
    }


def _parse(cursor: str | None) -> tuple[str, int]:
    if cursor is None:
        return "s", -1
    kind, _, value = cursor.partition(":")
    if kind not in ("s", "u") or not value.lstrip("-").isdigit():
        raise InvalidCursor("malformed cursor")
    return kind, int(value)


async def page(
    db: Database, org_id: uuid.UUID, wanted: AuditFilter, cursor: str | None = None, limit: int = PAGE
) -> Page:
    """One page of ``org_id``'s log (an org reads only its own: the query and RLS both scope it)."""
    kind, after = _parse(cursor)
    async with chain_session(db, org_id) as session:
        if kind == "s":
            sealed = await audit_chain.sealed_page(session, org_id, after, limit, wanted)
            if sealed:
                items = [{**entry_dict(row), "seal": _seal(seal)} for seal, row in sealed]
                return Page(items, f"s:{sealed[-1][0].position}" if len(sealed) == limit else "u:0")
            after = 0
        rows = await audit_chain.unsealed_page(session, org_id, after, limit, wanted)
    items = [{**entry_dict(row), "seal": None} for row in rows]
    return Page(items, f"u:{rows[-1].seq}" if len(rows) == limit else None)


async def export_lines(db: Database, org_id: uuid.UUID, wanted: AuditFilter) -> AsyncIterator[str]:
    """Every matching entry as one JSON line, page by page."""
    cursor: str | None = None
    while True:
        current = await page(db, org_id, wanted, cursor)
        for item in current.items:
            yield json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"
        if current.next_cursor is None:
            return
        cursor = current.next_cursor
