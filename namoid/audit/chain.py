"""The audit hash chain (DESIGN.md §5): canonical entries, links, and checking a chain.

Each org's entries, and the system's, form one chain in sealing order:
``hash = SHA-256(prev_hash ‖ canonical entry)``, starting from ``GENESIS``. The canonical
entry is the entry's JSON (sorted keys, no spaces, UTF-8), the same bytes whether it is
read from the database or from an export line, so an export verifies offline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import Row

from namoid.storage.models import AuditEntry

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"
ENTRY_FIELDS = (
    "seq",
    "org_id",
    "occurred_at",
    "actor_type",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "detail",
)


def chain_name(org_id: object | None) -> str:
    return SYSTEM_CHAIN if org_id is None else str(org_id)


def entry_dict(row: AuditEntry | Row[Any]) -> dict[str, Any]:
    """An audit row as JSON-ready values (times in UTC, microseconds)."""
    return {
        "seq": row.seq,
        "org_id": None if row.org_id is None else str(row.org_id),
        "occurred_at": row.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_type": row.actor_type,
        "actor_id": row.actor_id,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "outcome": row.outcome,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "request_id": row.request_id,
        "detail": row.detail,
    }


def canonical(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(
        {name: entry.get(name) for name in ENTRY_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode()


def same_hash(a: str, b: str) -> bool:
    """Chain hashes are public, but compared like secrets anyway (one rule, no exceptions)."""
    return hmac.compare_digest(a.encode(), b.encode())


def content_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 of the entry without its ``seq``: finds where a moved (reordered) entry was sealed."""
    return hashlib.sha256(canonical({**entry, "seq": None})).hexdigest()


def link(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(entry)).hexdigest()


@dataclass(frozen=True, slots=True)
class Link:
    """One seal as stored (or exported) and the entry it covers, if that entry is still there."""

    position: int
    seq: int
    prev_hash: str
    hash: str
    content_hash: str
    entry: Mapping[str, Any] | None
    #: The entry was removed by a recorded retention run (its absence is expected).
    pruned: bool = False


@dataclass(frozen=True, slots=True)
class Problem:
    position: int
    seq: int
    kind: str  # altered | missing | reordered | broken | gap
    message: str


@dataclass(slots=True)
class ChainState:
    """A chain walked so far: where it is and the first problem found."""

    position: int = -1
    head: str = GENESIS
    checked: int = 0
    problem: Problem | None = None


def walk(links: Iterable[Link], state: ChainState, *, anchored: bool = True) -> ChainState:
    """Check ``links`` (in position order) onto ``state``; stop at the first problem.

    With ``anchored=False`` the first link's ``prev_hash`` is taken as given (an export
    that starts after entries removed by retention, or a filtered one).
    """
    for item in links:
        if state.problem is not None:
            break
        first = state.checked == 0 and not anchored
        if not first and item.position != state.position + 1:
            state.problem = Problem(
                item.position,
                item.seq,
                "gap",
                f"chain positions {state.position + 1}..{item.position - 1} are missing (seals deleted)",
            )
            break
        if not first and not same_hash(item.prev_hash, state.head):
            state.problem = Problem(
                item.position,
                item.seq,
                "broken",
                f"the link at position {item.position} does not follow its predecessor",
            )
            break
        if item.entry is None:
            if not item.pruned:
                state.problem = Problem(
                    item.position, item.seq, "missing", f"entry seq {item.seq} is missing (deleted)"
                )
                break
        elif not same_hash(link(item.prev_hash, item.entry), item.hash):
            state.problem = Problem(item.position, item.seq, "altered", f"entry seq {item.seq} was altered")
            break
        state.position, state.head = item.position, item.hash
        state.checked += 1
    return state
