"""The purge (DPDP Act 2023 s.8(7), s.12(3); issue 13): a deleted account's data goes, a tombstone stays.

The worker purges each account whose ``purge_at`` (deletion + the org's grace period) has
come, in one tenant transaction per account:

1. claim it: one conditional UPDATE (``deleted`` → ``purging``), so of several workers
   exactly one purges it and a second pass finds nothing to do;
2. write the tombstone: keyed hashes (HMAC-SHA-256 under the org's key derived from the
   keyring pepper, namoid.crypto.org_mac) of the user id, email and phone, the account's
   times, and the legal basis of every section that keeps rows; nothing readable;
3. run each registered section's erasure (namoid.privacy.sections), the section holding the
   ``users`` row last, when nothing refers to it any more;
4. audit the deletion certificate (``user.deletion_certified``: what was erased, what was
   kept and why) and raise ``user.purged``, delivered to relying parties as RISC
   ``account-purged``.

Before that, any provider connection the deletion left (a process that died between the
soft delete and the upstream revocation) is ended, upstream first, outside the transaction.
A tombstone does not block a new account with the same email: the address is free again, as
for anyone who never had an account (the hash only lets an operator who already holds an
identifier confirm that such an account was purged, and when).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, events
from namoid.crypto.org_mac import org_mac
from namoid.privacy import erasure
from namoid.privacy.registry import DataPrincipal, Section
from namoid.privacy.sections import SECTIONS
from namoid.services import Services
from namoid.storage.models import Organization, Tombstone, User
from namoid.storage.repos import tombstones, users
from namoid.tenancy import organizations

log = logging.getLogger(__name__)

#: The HKDF label of the tombstone's keyed hashes (one key per org for this purpose).
TOMBSTONE_LABEL: Final = b"namoid/tombstone/v1/"
#: Accounts purged per org and pass; the next pass takes the rest.
BATCH: Final = 100


def identifier_mac(pepper: bytes, org_id: uuid.UUID, kind: str, value: str) -> str:
    """The tombstone's keyed hash of one identifier (``kind``: user_id, email or phone)."""
    return org_mac(pepper, org_id, TOMBSTONE_LABEL, f"{kind}:{value}")


def _users_last(sections: Sequence[Section]) -> list[Section]:
    """The sections in order, the one holding ``users`` moved to the end (foreign keys)."""
    return sorted(sections, key=lambda section: "users" in section.tables)


def legal_basis(sections: Sequence[Section]) -> list[dict[str, str]]:
    """What the purge keeps, section by section, and why (fixed text, no personal data)."""
    return [
        {"data": section.name, "action": section.erasure.action, "basis": section.erasure.legal_basis or ""}
        for section in sections
        if section.erasure is not None and section.erasure.action != "delete"
    ]


def _tombstone(pepper: bytes, user: User, now: datetime, kept: list[dict[str, str]]) -> Tombstone:
    if user.deleted_at is None:
        raise ValueError("only a deleted account is purged")
    org_id = user.org_id
    return Tombstone(
        subject_mac=identifier_mac(pepper, org_id, "user_id", str(user.id)),
        email_mac=identifier_mac(pepper, org_id, "email", user.email),
        phone_mac=identifier_mac(pepper, org_id, "phone", user.phone) if user.phone else None,
        account_created_at=user.created_at,
        deleted_at=user.deleted_at,
        purged_at=now,
        legal_basis=kept,
    )


async def _erase(session: AsyncSession, principal: DataPrincipal) -> list[str]:
    """Run every section's erasure; the names of the sections whose rows went or changed."""
    erased = []
    for section in _users_last(SECTIONS):
        if section.erasure is None:
            raise ValueError(f"section {section.name!r} does not say how it is erased")
        if section.erasure.run is not None:
            await section.erasure.run(session, principal)
            erased.append(section.name)
    return erased


async def purge_user(
    services: Services, org_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> Tombstone | None:
    """Purge one due account (see the module docstring); None if it is not due or another worker has it."""
    async with services.db.tenant(org_id) as session:
        if not await users.claim_for_purge(session, org_id, user_id, now):
            return None
        user = await users.get(session, org_id, user_id)
        if user is None:
            raise LookupError("a claimed user is gone")
        kept = legal_basis(SECTIONS)
        tombstone = await tombstones.add(
            session, org_id, _tombstone(services.keyring.pepper, user, now, kept)
        )
        erased = await _erase(session, DataPrincipal(org_id, user_id, now))
        await audit.record(
            session,
            org_id,
            actor=audit.WORKER,
            action="user.deletion_certified",
            target_type="user",
            target_id=str(user_id),
            detail={
                "tombstone_id": str(tombstone.id),
                "deleted_at": tombstone.deleted_at.isoformat(),
                "purged_at": now.isoformat(),
                "erased": erased,
                "kept": kept,
            },
        )
        await events.raise_event(
            session,
            org_id,
            "user.purged",
            actor=audit.WORKER,
            subject=events.user_subject(user_id),
            target_type="user",
            target_id=str(user_id),
        )
    return tombstone


async def purge_org(services: Services, org: Organization, now: datetime) -> int:
    """Purge ``org``'s accounts due at ``now`` (at most ``BATCH``); how many were purged."""
    async with services.db.tenant(org.id) as session:
        due = await users.due_for_purge(session, org.id, now, BATCH)
    purged = 0
    for user_id in due:
        try:
            await erasure.end_provider_connections(services, org.id, user_id, audit.WORKER)
            if await purge_user(services, org.id, user_id, now) is not None:
                purged += 1
        except Exception:  # one account that cannot be purged must not hold back the others
            log.exception("purging account %s of org %s failed; the next pass retries", user_id, org.id)
    return purged


async def purge_due(services: Services, now: datetime) -> dict[str, int]:
    """The worker's job: purge every org's due accounts; how many per org slug (non-zero only)."""
    counts: Counter[str] = Counter()
    for org in await organizations.list_all(services.db):
        if purged := await purge_org(services, org, now):
            counts[org.slug] = purged
    return dict(counts)
