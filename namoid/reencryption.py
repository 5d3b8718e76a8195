"""``namoid keys reencrypt``: rewrite every encrypted column under the active key (DESIGN.md §4).

Each encrypted column is listed once in ``ENCRYPTED_COLUMNS``; a feature that adds one
adds a line there, and rotation covers it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.crypto.keyring import Keyring, aad_for
from namoid.storage.db import Database
from namoid.storage.repos import event_outbox, organizations, refresh_tokens, signing_keys


@dataclass(frozen=True, slots=True)
class EncryptedValue:
    row_id: uuid.UUID
    envelope: str


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    table: str
    column: str
    read: Callable[[AsyncSession, uuid.UUID], Awaitable[Sequence[EncryptedValue]]]
    write: Callable[[AsyncSession, uuid.UUID, uuid.UUID, str], Awaitable[None]]


async def _signing_keys(session: AsyncSession, org_id: uuid.UUID) -> list[EncryptedValue]:
    return [EncryptedValue(k.id, k.private_key_enc) for k in await signing_keys.list_all(session, org_id)]


async def _refresh_successors(session: AsyncSession, org_id: uuid.UUID) -> list[EncryptedValue]:
    """Successor responses live at most a reuse window (60 s), but one sealed just before a
    key rotation must still open after it, and must keep its key from being retired."""
    return [EncryptedValue(*row) for row in await refresh_tokens.sealed_successors(session, org_id)]


async def _queued_messages(session: AsyncSession, org_id: uuid.UUID) -> list[EncryptedValue]:
    return [EncryptedValue(mid, enc) for mid, enc in await event_outbox.pending_payloads(session, org_id)]


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn("signing_keys", "private_key_enc", _signing_keys, signing_keys.set_private_key_enc),
    EncryptedColumn("refresh_tokens", "successor_enc", _refresh_successors, refresh_tokens.reseal_successor),
    # Bound to the message id (notify.outbox.payload_aad), the row id of this column's associated data.
    EncryptedColumn("event_outbox", "payload_enc", _queued_messages, event_outbox.set_payload_enc),
)


async def _org_ids(db: Database) -> list[uuid.UUID]:
    async with db.system() as session:
        return [org.id for org in await organizations.list_all(session)]


async def count_under_key(db: Database, key_id: str) -> int:
    """How many stored values are still encrypted under ``key_id`` (retiring it would lose them)."""
    count = 0
    for org_id in await _org_ids(db):
        async with db.tenant(org_id) as session:
            for column in ENCRYPTED_COLUMNS:
                values = await column.read(session, org_id)
                count += sum(Keyring.key_id_of(v.envelope) == key_id for v in values)
    return count


async def reencrypt_all(db: Database, keyring: Keyring, actor: audit.Actor) -> int:
    """Re-encrypt every value not under the active key; return how many were rewritten."""
    total = 0
    for org_id in await _org_ids(db):
        async with db.tenant(org_id) as session:
            rewritten = 0
            for column in ENCRYPTED_COLUMNS:
                for value in await column.read(session, org_id):
                    if keyring.is_current(value.envelope):
                        continue
                    aad = aad_for(column.table, column.column, str(org_id), str(value.row_id))
                    fresh = keyring.encrypt(keyring.decrypt(value.envelope, aad), aad)
                    await column.write(session, org_id, value.row_id, fresh)
                    rewritten += 1
            if rewritten:
                await audit.record(
                    session,
                    org_id,
                    actor=actor,
                    action="keyring.reencrypted",
                    detail={"values": rewritten, "key_id": keyring.active_key_id},
                )
        total += rewritten
    return total
