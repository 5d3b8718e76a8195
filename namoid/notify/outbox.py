"""Sending an email or SMS: a row of the durable outbox, in the caller's transaction (DESIGN.md §8).

The request that decides to send never waits on a provider: it writes the message,
encrypted under the keyring (AES-GCM, bound to the outbox table, the org and the
message id, since it may carry a one-time code), audits ``message.enqueued`` with the
destination masked plus a keyed hash, and wakes the worker when the transaction commits.
If the transaction rolls back, nothing is sent and nobody is woken.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.crypto.keyring import Keyring, aad_for
from namoid.notify.messages import Message, SmsMessage, from_payload, mask, to_payload
from namoid.notify.wakeup import Wakeup
from namoid.ratelimit.login import account_key
from namoid.storage.db import Database
from namoid.storage.models import utcnow
from namoid.storage.repos import event_outbox


def payload_aad(org_id: uuid.UUID, message_id: uuid.UUID) -> bytes:
    return aad_for("event_outbox", "payload_enc", str(org_id), str(message_id))


def seal(keyring: Keyring, org_id: uuid.UUID, message_id: uuid.UUID, message: Message) -> str:
    plaintext = json.dumps(to_payload(message), ensure_ascii=False).encode("utf-8")
    return keyring.encrypt(plaintext, payload_aad(org_id, message_id))


def unseal(keyring: Keyring, org_id: uuid.UUID, message_id: uuid.UUID, envelope: str) -> Message:
    """The message; ``DecryptionFailed`` if the envelope was tampered with or moved to another row."""
    document = json.loads(keyring.decrypt(envelope, payload_aad(org_id, message_id)))
    if not isinstance(document, dict):
        raise ValueError("malformed message payload")
    return from_payload(document)


def destination_detail(pepper: bytes, org_id: uuid.UUID, message: Message) -> dict[str, Any]:
    """What the audit log may know of a message: kind, masked destination, keyed hash, template."""
    detail: dict[str, Any] = {
        "kind": message.kind,
        "destination": mask(message),
        "destination_hash": account_key(pepper, org_id, message.to),
    }
    if isinstance(message, SmsMessage):
        detail["template"] = message.template
    return detail


async def enqueue(
    session: AsyncSession,
    keyring: Keyring,
    wakeup: Wakeup,
    org_id: uuid.UUID,
    message: Message,
    actor: audit.Actor,
    now: datetime | None = None,
    *,
    test_mode: bool = False,
) -> uuid.UUID:
    """Queue ``message`` for the worker in the caller's transaction; returns its id.

    In a ``test_mode`` org the message is captured instead: it lands in the org's inbox
    (``inbox``), no worker is woken and no sender ever sees it."""
    message_id = uuid.uuid4()
    envelope = seal(keyring, org_id, message_id, message)
    await event_outbox.enqueue_message(
        session, org_id, message.kind, message_id, envelope, now or utcnow(), captured=test_mode
    )
    await audit.record(
        session,
        org_id,
        actor=actor,
        action="message.captured" if test_mode else "message.enqueued",
        target_type=message.kind,
        target_id=str(message_id),
        detail=destination_detail(keyring.pepper, org_id, message),
    )
    if not test_mode:
        await event_outbox.announce(session, org_id)
        wakeup.wake_after_commit(session, org_id)
    return message_id


async def inbox_rows(db: Database, keyring: Keyring, org_id: uuid.UUID) -> list[dict[str, Any]]:
    """A test-mode org's captured messages, newest first, as shown to its admins (``namoid org
    inbox``, the admin API): when each was captured and the message itself."""
    async with db.tenant(org_id) as session:
        messages = await inbox(session, keyring, org_id)
    return [{"captured_at": at.isoformat(), **to_payload(message)} for at, message in messages]


async def inbox(session: AsyncSession, keyring: Keyring, org_id: uuid.UUID) -> list[tuple[datetime, Message]]:
    """A test-mode org's captured messages, newest first, with when each was captured."""
    rows = await event_outbox.list_inbox(session, org_id)
    return [
        (row.created_at, unseal(keyring, org_id, row.message_id, row.payload_enc))
        for row in rows
        if row.message_id is not None and row.payload_enc is not None
    ]
