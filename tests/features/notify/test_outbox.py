"""Messages in the durable outbox: encrypted at rest, written with the caller's transaction, leased by kind,
delivered by the worker to the dev mailbox, audited without their text (DESIGN.md §8)."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from namoid.crypto.keyring import Keyring, activate_key, add_key
from namoid.events.delivery import MAX_ATTEMPTS
from namoid.notify import outbox
from namoid.notify.delivery import MessageDelivery
from namoid.notify.dev import mailbox_dir, read_mailbox
from namoid.notify.messages import EmailMessage, SmsMessage, mask_email, mask_phone
from namoid.ratelimit.login import account_key
from namoid.reencryption import count_under_key, reencrypt_all
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, Organization, OutboxEntry, utcnow
from namoid.storage.repos import event_outbox
from tests.conftest import ISOLATED
from tests.features.conftest import ADMIN
from tests.features.events.conftest import raise_test_event
from tests.features.notify.conftest import message_rows, queue

CODE = "582034"
MAIL = EmailMessage(to="Asha.Rao@example.com", subject="Sign-in code", text=f"Your code is {CODE}.")
SMS = SmsMessage(to="+919876541234", text=f"{CODE} is your NamoID code.", template="otp")


async def _actions(services: Services, org: Organization) -> list[AuditEntry]:
    async with services.db.tenant(org.id) as session:
        query = select(AuditEntry).where(AuditEntry.org_id == org.id).order_by(AuditEntry.seq)
        return [e for e in (await session.scalars(query)).all() if e.action.startswith("message.")]


def test_destinations_are_masked() -> None:
    assert mask_email("asha.rao@example.com") == "a***@example.com"
    assert mask_phone("+919876541234") == "+91******1234"
    assert mask_email("not-an-address") == "***" and mask_phone("+9112") == "***"


async def test_the_message_is_stored_encrypted_and_its_text_never_audited(
    services: Services, org: Organization, owner_db: Database
) -> None:
    message_id = await queue(services, org, MAIL)

    async with owner_db.system() as session:
        [raw] = (await session.execute(select(OutboxEntry).where(OutboxEntry.message_id == message_id))).all()
    row = raw[0]
    assert row.kind == "email" and row.event_id is None and row.payload_enc.startswith("v1.")
    assert CODE not in row.payload_enc and "Asha" not in row.payload_enc
    assert outbox.unseal(services.keyring, org.id, message_id, row.payload_enc) == MAIL

    [enqueued] = await _actions(services, org)
    assert enqueued.action == "message.enqueued" and enqueued.target_id == str(message_id)
    assert enqueued.actor_type == "admin"
    assert enqueued.detail == {
        "kind": "email",
        "destination": "A***@example.com",
        "destination_hash": account_key(services.keyring.pepper, org.id, "asha.rao@example.com"),
    }
    assert CODE not in json.dumps(enqueued.detail) and "Rao" not in json.dumps(enqueued.detail)


async def test_a_rolled_back_transaction_sends_nothing(services: Services, org: Organization) -> None:
    with pytest.raises(RuntimeError):
        async with services.db.tenant(org.id) as session:
            await outbox.enqueue(session, services.keyring, services.wakeup, org.id, MAIL, ADMIN)
            raise RuntimeError("the decision to send was undone")

    assert await message_rows(services, org) == []
    assert await services.wakeup.wait(0.01) == set()  # and nobody was woken


async def test_a_payload_moved_to_another_row_is_not_decrypted_and_not_sent(
    services: Services, org: Organization, owner_db: Database, tmp_path: Path
) -> None:
    """AES-GCM associated data binds the payload to its org and message id (DESIGN.md §4)."""
    victim = await queue(services, org, MAIL)
    attacker = await queue(services, org, EmailMessage(to="mallory@example.com", subject="x", text="y"))
    async with owner_db.system() as session:
        stolen = await session.scalar(select(OutboxEntry.payload_enc).where(OutboxEntry.message_id == victim))
        await session.execute(
            update(OutboxEntry).where(OutboxEntry.message_id == attacker).values(payload_enc=stolen)
        )

    report = await MessageDelivery(services).run(org_ids=[org.id])

    assert (report.delivered, report.failed) == (1, 1)
    [received] = read_mailbox(mailbox_dir(services.settings.data_dir))
    assert received.message == MAIL  # the victim's own row, once
    failed = [e for e in await _actions(services, org) if e.action == "message.failed"]
    assert [(e.target_id, e.detail["error"]) for e in failed] == [
        (str(attacker), "payload cannot be decrypted")
    ]


async def test_the_worker_delivers_to_the_dev_mailbox_privately(
    services: Services, org: Organization
) -> None:
    email_id = await queue(services, org, MAIL)
    sms_id = await queue(services, org, SMS)

    report = await MessageDelivery(services).run(org_ids=[org.id])

    assert report.delivered == 2
    directory = mailbox_dir(services.settings.data_dir)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()} == {0o600}
    assert sorted(r.message.kind for r in read_mailbox(directory)) == ["email", "sms"]
    sent = [(e.action, e.target_id, e.detail["destination"]) for e in await _actions(services, org)]
    assert sent[2:] == [
        ("message.sent", str(email_id), "A***@example.com"),
        ("message.sent", str(sms_id), "+91******1234"),
    ]
    rows = await message_rows(services, org)
    assert all(row.delivered_at is not None and row.payload_enc is None for row in rows)  # content erased


async def test_message_and_webhook_deliveries_never_lease_each_others_rows(
    services: Services, org: Organization
) -> None:
    await queue(services, org, SMS)
    now, lease = utcnow(), utcnow() + timedelta(minutes=1)
    async with services.db.tenant(org.id) as session:
        assert await event_outbox.claim_due(session, org.id, now, lease, 50) == []
        [claimed] = await event_outbox.claim_messages(session, org.id, ("email", "sms"), now, lease, 50)
    assert claimed.kind == "sms"


async def test_a_webhook_row_never_reaches_a_sender(
    services: Services, org: Organization, owner_db: Database
) -> None:
    """The schema itself keeps the kinds apart: a message row needs its payload, a webhook row its event."""
    event = await raise_test_event(services, org)
    async with owner_db.system() as session:
        with pytest.raises(Exception, match=r"(?i)check"):
            await session.execute(
                OutboxEntry.__table__.insert().values(  # type: ignore[attr-defined]
                    org_id=org.id, kind="sms", event_id=event.id, message_id=uuid.uuid4(),
                    created_at=utcnow(), next_attempt_at=utcnow(), attempts=0,
                )
            )  # fmt: skip


async def test_retries_run_out_then_the_message_fails_and_is_audited(
    services: Services, org: Organization, owner_db: Database
) -> None:
    services.settings.data_dir.mkdir(parents=True)
    mailbox_dir(services.settings.data_dir).write_text("not a directory: the dev mailbox is down")
    message_id = await queue(services, org, SMS)
    async with owner_db.system() as session:
        await session.execute(
            update(OutboxEntry).where(OutboxEntry.message_id == message_id).values(attempts=MAX_ATTEMPTS - 1)
        )

    report = await MessageDelivery(services).run(org_ids=[org.id])

    assert report.failed == 1
    [row] = await message_rows(services, org)
    assert row.failed_at is not None and row.attempts == MAX_ATTEMPTS and row.payload_enc is None
    failed = (await _actions(services, org))[-1]
    assert failed.action == "message.failed" and failed.outcome == "failure"
    assert failed.detail["attempts"] == MAX_ATTEMPTS and failed.detail["destination"] == "+91******1234"


@ISOLATED
async def test_key_rotation_rewrites_queued_messages(
    services: Services, org: Organization, keyring_file: Path
) -> None:
    """``namoid keys reencrypt`` covers queued messages: retiring the old key then loses none."""
    old_key = services.keyring.active_key_id
    before = await count_under_key(services.db, old_key)
    message_id = await queue(services, org, SMS)
    assert await count_under_key(services.db, old_key) == before + 1

    activate_key(keyring_file, add_key(keyring_file))
    rotated = Keyring.load(keyring_file)
    await reencrypt_all(services.db, rotated, ADMIN)

    assert await count_under_key(services.db, old_key) == 0
    [row] = await message_rows(services, org)
    assert Keyring.key_id_of(row.payload_enc or "") == rotated.active_key_id
    assert outbox.unseal(rotated, org.id, message_id, row.payload_enc or "") == SMS
