"""``namoid audit verify``: recompute a chain from the database or from an export file.

Names the first entry that was altered, deleted (without a retention run covering it)
or moved to another ``seq`` (reordered), a broken or cut chain, and a chain shorter
than a checkpoint says it was (its tail deleted together with its seals).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from namoid.audit.chain import (
    ChainState,
    Link,
    Problem,
    chain_name,
    content_hash,
    entry_dict,
    same_hash,
    walk,
)
from namoid.audit.sealing import CHECKPOINT_TYP, chain_session
from namoid.jose import jwt
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import Organization
from namoid.storage.repos import audit_chain
from namoid.tenancy.resolve import issuer_for

PAGE = 5000


@dataclass(frozen=True, slots=True)
class Verdict:
    chain: str
    checked: int
    head_position: int
    head: str
    problem: Problem | None
    unsealed: int = 0
    checkpoints: int = 0

    @property
    def intact(self) -> bool:
        return self.problem is None


async def verify_chain(db: Database, org_id: uuid.UUID | None, *, page: int = PAGE) -> Verdict:
    """Walk the chain in pages (constant memory), then hold it against its checkpoints."""
    state = ChainState()
    async with chain_session(db, org_id) as session:
        pruned_up_to = await audit_chain.pruned_up_to(session, org_id)
    while state.problem is None:
        async with chain_session(db, org_id) as session:
            rows = await audit_chain.links(session, org_id, state.position, page)
        if not rows:
            break
        walk(
            (
                Link(
                    position=seal.position,
                    seq=seal.seq,
                    prev_hash=seal.prev_hash,
                    hash=seal.hash,
                    content_hash=seal.content_hash,
                    entry=None if row is None else entry_dict(row),
                    pruned=row is None and seal.seq <= pruned_up_to,
                )
                for seal, row in rows
            ),
            state,
        )
        if state.problem is not None and state.problem.kind == "altered":
            state.problem = await _reordered(db, org_id, state.problem) or state.problem
    async with chain_session(db, org_id) as session:
        unsealed = await audit_chain.count_unsealed(session, org_id)
        marks = await audit_chain.checkpoints(session, org_id)
        if state.problem is None:
            for mark in marks:
                seal = await audit_chain.seal_at(session, org_id, mark.position)
                if seal is None or mark.position > state.position:
                    state.problem = Problem(
                        mark.position,
                        -1,
                        "truncated",
                        f"a checkpoint covers position {mark.position}; the chain ends at {state.position}",
                    )
                    break
                if not same_hash(seal.hash, mark.hash):
                    state.problem = Problem(
                        mark.position,
                        seal.seq,
                        "rewritten",
                        f"the chain differs from its checkpoint at {mark.position}",
                    )
                    break
    return Verdict(
        chain_name(org_id), state.checked, state.position, state.head, state.problem, unsealed, len(marks)
    )


async def _reordered(db: Database, org_id: uuid.UUID | None, problem: Problem) -> Problem | None:
    """An altered entry whose content was sealed at another position was moved there from."""
    async with chain_session(db, org_id) as session:
        rows = await audit_chain.links(session, org_id, problem.position - 1, 1)
        if not rows or rows[0][1] is None:
            return None
        entry = entry_dict(rows[0][1])
        moved_from = await audit_chain.position_of_content(session, org_id, content_hash(entry))
    if moved_from is None or moved_from == problem.position:
        return None
    return replace(
        problem,
        kind="reordered",
        message=f"entry seq {problem.seq} holds the entry sealed at chain position {moved_from} (reordered)",
    )


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, json.loads(line)


def _file_links(path: Path) -> Iterator[Link]:
    for _, item in _lines(path):
        seal = item.get("seal")
        if seal is None:
            return  # the unsealed tail of an export: nothing to check yet
        entry = {key: value for key, value in item.items() if key != "seal"}
        yield Link(
            position=int(seal["position"]),
            seq=int(entry["seq"]),
            prev_hash=str(seal["prev_hash"]),
            hash=str(seal["hash"]),
            content_hash=str(seal["content_hash"]),
            entry=entry,
        )


def verify_file(path: Path) -> Verdict:
    """Verify an export offline: every line's link, and the links between consecutive lines.

    An export that starts after position 0 (older entries removed by retention) is
    anchored at its first line's ``prev_hash``; a filtered export is not contiguous
    and fails as a gap, so verify unfiltered exports.
    """
    state = ChainState()
    links = _file_links(path)
    first = next(links, None)
    if first is not None:
        walk([first], state, anchored=first.position == 0)
        walk(links, state)
    if state.problem is not None and state.problem.kind == "altered":
        bad = next((item for item in _file_links(path) if item.position == state.problem.position), None)
        if bad is not None and bad.entry is not None:
            digest = content_hash(bad.entry)
            moved = next((item for item in _file_links(path) if same_hash(item.content_hash, digest)), None)
            if moved is not None and moved.position != bad.position:
                state.problem = replace(
                    state.problem,
                    kind="reordered",
                    message=f"entry seq {bad.seq} holds the entry sealed at chain position {moved.position} "
                    "(reordered)",
                )
    return Verdict(str(path), state.checked, state.position, state.head, state.problem)


async def verify_checkpoint(services: Services, org: Organization, signed: str, verdict: Verdict) -> Verdict:
    """Hold an intact chain against a checkpoint kept elsewhere (signature by the org's published keys)."""
    keys = (await services.signing.for_org(org)).published
    try:
        claims = jwt.verify(
            signed,
            keys,
            issuer=issuer_for(services.settings.base_url, org.slug),
            audience=None,
            typ=CHECKPOINT_TYP,
            expires=False,
        )
    except jwt.JWTError as exc:
        raise ValueError(f"the checkpoint does not verify against the org's keys: {exc}") from None
    position, expected = int(claims["position"]), str(claims["hash"])
    if claims.get("chain") != chain_name(org.id):
        raise ValueError("the checkpoint belongs to another chain")
    async with services.db.tenant(org.id) as session:
        seal = await audit_chain.seal_at(session, org.id, position)
    if seal is None or position > verdict.head_position:
        problem = Problem(
            position,
            -1,
            "truncated",
            f"the checkpoint covers position {position}; the chain ends at {verdict.head_position}",
        )
    elif not same_hash(seal.hash, expected):
        problem = Problem(
            position, seal.seq, "rewritten", f"the chain differs from the checkpoint at {position}"
        )
    else:
        return verdict
    return replace(verdict, problem=problem)
