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
from namoid.privacy import export_jobs
from namoid.providers import vault
from namoid.providers.registry import SECRET_COLUMN
from namoid.storage.db import Database
from namoid.storage.repos import (
    data_exports,
    event_outbox,
    organizations,
    provider_tokens,
    refresh_tokens,
    signing_keys,
    upstream_providers,
)

#: Values re-encrypted per transaction.
BATCH_SIZE = 200


@dataclass(frozen=True, slots=True)
class EncryptedValue:
    row_id: uuid.UUID
    envelope: str
    #: The row part of the associated data, when it binds more than the row id (the vault).
    row_binding: str | None = None


WriteEnvelope = Callable[[AsyncSession, uuid.UUID, EncryptedValue, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    table: str
    column: str
    read: Callable[[AsyncSession, uuid.UUID], Awaitable[Sequence[EncryptedValue]]]
    #: Store the re-encrypted envelope of a value read before (may skip a value changed since).
    write: WriteEnvelope


async def _signing_keys(session: AsyncSession, org_id: uuid.UUID) -> list[EncryptedValue]:
    return [EncryptedValue(k.id, k.private_key_enc) for k in await signing_keys.list_all(session, org_id)]


async def _refresh_successors(session: AsyncSession, org_id: uuid.UUID) -> list[EncryptedValue]:
    """Successor responses live at most a reuse window (60 s), but one sealed just before a
    key rotation must still open after it, and must keep its key from being retired."""
    return [EncryptedValue(*row) for row in await refresh_tokens.sealed_successors(session, org_id)]


async def _queued_messages(session: AsyncSession, org_id: uuid.UUID) -> list[EncryptedValue]:
    return [EncryptedValue(mid, enc) for mid, enc in await event_outbox.pending_payloads(session, org_id)]


async def _provider_secrets(session: AsyncSession, org_id: uuid.UUID) -> list[EncryptedValue]:
    return [
        EncryptedValue(p.id, p.client_secret_enc) for p in await upstream_providers.list_all(session, org_id)
    ]


async def _export_documents(session: AsyncSession, org_id: uuid.UUID) -> list[EncryptedValue]:
    return [
        EncryptedValue(export_id, envelope, export_jobs.row_binding(user_id, export_id))
        for export_id, user_id, envelope in await data_exports.sealed_payloads(session, org_id)
    ]


def _vault_column(column: str) -> EncryptedColumn:
    async def read(session: AsyncSession, org_id: uuid.UUID) -> list[EncryptedValue]:
        rows = await provider_tokens.list_all(session, org_id)
        return [
            EncryptedValue(row.id, envelope, vault.row_binding(row))
            for row in rows
            if (envelope := getattr(row, column)) is not None
        ]

    async def write(session: AsyncSession, org_id: uuid.UUID, value: EncryptedValue, envelope: str) -> None:
        # Only if unchanged: a refresh that stored new tokens meanwhile (under the active key) wins.
        await provider_tokens.replace_envelope(
            session, org_id, value.row_id, column, value.envelope, envelope
        )

    return EncryptedColumn(vault.TABLE, column, read, write)


def _by_row_id(store: Callable[[AsyncSession, uuid.UUID, uuid.UUID, str], Awaitable[None]]) -> WriteEnvelope:
    """A repo setter keyed by the row id, as an ``EncryptedColumn.write``."""

    async def write(session: AsyncSession, org_id: uuid.UUID, value: EncryptedValue, envelope: str) -> None:
        await store(session, org_id, value.row_id, envelope)

    return write


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(
        "signing_keys", "private_key_enc", _signing_keys, _by_row_id(signing_keys.set_private_key_enc)
    ),
    EncryptedColumn(*SECRET_COLUMN, _provider_secrets, _by_row_id(upstream_providers.set_client_secret_enc)),
    *(_vault_column(column) for column in provider_tokens.ENCRYPTED),
    EncryptedColumn(
        "refresh_tokens", "successor_enc", _refresh_successors, _by_row_id(refresh_tokens.reseal_successor)
    ),
    # Bound to the message id (notify.outbox.payload_aad), the row id of this column's associated data.
    EncryptedColumn(
        "event_outbox", "payload_enc", _queued_messages, _by_row_id(event_outbox.set_payload_enc)
    ),
    EncryptedColumn(
        export_jobs.TABLE, export_jobs.COLUMN, _export_documents, _by_row_id(data_exports.reseal_payload)
    ),
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


async def _stale(
    db: Database, keyring: Keyring, org_id: uuid.UUID
) -> list[tuple[EncryptedColumn, EncryptedValue]]:
    async with db.tenant(org_id) as session:
        return [
            (column, value)
            for column in ENCRYPTED_COLUMNS
            for value in await column.read(session, org_id)
            if not keyring.is_current(value.envelope)
        ]


async def reencrypt_all(db: Database, keyring: Keyring, actor: audit.Actor) -> int:
    """Re-encrypt every value not under the active key, in short transactions of ``BATCH_SIZE``
    values (each audited), so NamoID keeps serving; return how many were rewritten."""
    total = 0
    for org_id in await _org_ids(db):
        stale = await _stale(db, keyring, org_id)
        for start in range(0, len(stale), BATCH_SIZE):
            batch = stale[start : start + BATCH_SIZE]
            async with db.tenant(org_id) as session:
                for column, value in batch:
                    binding = value.row_binding or str(value.row_id)
                    aad = aad_for(column.table, column.column, str(org_id), binding)
                    await column.write(
                        session, org_id, value, keyring.encrypt(keyring.decrypt(value.envelope, aad), aad)
                    )
                await audit.record(
                    session,
                    org_id,
                    actor=actor,
                    action="keyring.reencrypted",
                    detail={"values": len(batch), "key_id": keyring.active_key_id},
                )
            total += len(batch)
    return total
