"""Sealing the audit log into per-org hash chains, off the request path (DESIGN.md §5).

A pass seals every chain: the entries not yet sealed, in ``seq`` order, each linked to
the chain's head. Entries are sealed in the order the sealer sees them committed, so an
entry whose transaction commits late joins the chain at the next pass rather than
being lost. Several sealers can run: on PostgreSQL a per-chain advisory lock makes
them take turns; on every backend the unique (chain, position) constraint refuses a
second sealer's links, and that sealer simply tries again next pass.

After sealing, a chain whose head moved on gets a signed checkpoint (a JWS of the
head, signed with the org's key) once per ``CHECKPOINT_EVERY``.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from namoid.audit.chain import GENESIS, chain_name, content_hash, entry_dict, link
from namoid.jose import jwt
from namoid.services import Services
from namoid.signing import ORG_KEY_ALG
from namoid.storage.db import Database
from namoid.storage.models import Organization, utcnow
from namoid.storage.repos import audit_chain
from namoid.tenancy import organizations
from namoid.tenancy.resolve import issuer_for

log = logging.getLogger(__name__)

BATCH = 5000
#: How far below the chain head's seq the sealer still looks for late-committed entries.
LATE_WINDOW = 10_000
CHECKPOINT_EVERY = timedelta(hours=1)
CHECKPOINT_TYP = "namoid-audit-checkpoint+jwt"


@dataclass(slots=True)
class SealReport:
    sealed: int = 0
    checkpoints: int = 0
    chains: dict[str, int] = field(default_factory=dict)


def chain_session(db: Database, org_id: uuid.UUID | None) -> AbstractAsyncContextManager[AsyncSession]:
    """The transaction a chain is read and written in: the org's, or the system one."""
    return db.system() if org_id is None else db.tenant(org_id)


async def _lock(db: Database, session: AsyncSession, org_id: uuid.UUID | None) -> None:
    """Take the chain's advisory lock; plan each query for its values (a cached generic plan
    for "this chain's last link" scans the whole chain once the seal table has outgrown its
    statistics)."""
    if db.is_postgres:
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        key = f"namoid-audit-seal:{chain_name(org_id)}"
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


async def seal_chain(db: Database, org_id: uuid.UUID | None, *, batch: int = BATCH) -> int:
    """Seal everything of one chain that is not sealed yet; the number of entries sealed."""
    chain = chain_name(org_id)
    total = 0
    while True:
        try:
            async with chain_session(db, org_id) as session:
                await _lock(db, session, org_id)
                head = await audit_chain.head(session, org_id)
                position, prev = (head.position, head.hash) if head else (-1, GENESIS)
                after = max(0, head.seq - LATE_WINDOW) if head else 0
                rows = await audit_chain.unsealed(session, org_id, after, batch)
                seals = []
                for row in rows:
                    entry = entry_dict(row)
                    position += 1
                    digest = link(prev, entry)
                    seals.append(
                        {
                            "chain": chain,
                            "position": position,
                            "seq": row.seq,
                            "prev_hash": prev,
                            "hash": digest,
                            "content_hash": content_hash(entry),
                            "sealed_at": utcnow(),
                        }
                    )
                    prev = digest
                if seals:
                    await audit_chain.add_seals(session, org_id, seals)
        except IntegrityError:
            log.info("another sealer sealed chain %s first; trying again next pass", chain)
            return total
        total += len(rows)
        if len(rows) < batch:
            return total


async def checkpoint(services: Services, org: Organization, *, force: bool = False) -> bool:
    """Sign the org chain's head if it moved on since the last checkpoint (and one is due)."""
    async with services.db.tenant(org.id) as session:
        head = await audit_chain.head(session, org.id)
        last = await audit_chain.latest_checkpoint(session, org.id)
    if head is None or (last is not None and last.position >= head.position):
        return False
    if not force and last is not None and last.created_at > utcnow() - CHECKPOINT_EVERY:
        return False
    now = utcnow()
    key = await services.signing.active_key(org, ORG_KEY_ALG)
    claims = {
        "iss": issuer_for(services.settings.base_url, org.slug),
        "chain": chain_name(org.id),
        "position": head.position,
        "hash": head.hash,
        "seq": head.seq,
        "iat": int(now.timestamp()),
    }
    signed = jwt.sign(claims, key, typ=CHECKPOINT_TYP)
    async with services.db.tenant(org.id) as session:
        await audit_chain.add_checkpoint(
            session, org.id, chain=chain_name(org.id), position=head.position, hash=head.hash, signed=signed
        )
    return True


async def seal_all(services: Services, orgs: list[Organization] | None = None) -> SealReport:
    """One sealing pass over the system chain and every org's chain (or just ``orgs``)."""
    report = SealReport()
    targets = orgs if orgs is not None else list(await organizations.list_all(services.db))
    if orgs is None:
        report.chains["system"] = await seal_chain(services.db, None)
    for org in targets:
        sealed = await seal_chain(services.db, org.id)
        report.chains[org.slug] = sealed
        if await checkpoint(services, org):
            report.checkpoints += 1
    report.sealed = sum(report.chains.values())
    return report


async def latest_checkpoint(db: Database, org_id: uuid.UUID) -> str | None:
    async with db.tenant(org_id) as session:
        last = await audit_chain.latest_checkpoint(session, org_id)
    return last.signed if last else None
