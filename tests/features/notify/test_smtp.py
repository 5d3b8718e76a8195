"""Email over SMTP to a real server (aiosmtpd) the test starts: TLS always, authentication, and outages.

Sent through the outbox and the worker's delivery, the test reads the message the server received.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from namoid.events.delivery import backoff
from namoid.notify.delivery import MessageDelivery
from namoid.notify.messages import EmailMessage, SendFailed
from namoid.notify.smtp import SmtpSender
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import AuditEntry, Organization, utcnow
from tests.conftest import Backend
from tests.features.notify.conftest import SmtpServer, message_rows, queue, smtp_settings

CODE_MAIL = EmailMessage(
    to="asha@example.com",
    subject="Your NamoID code",
    text="Your code is 314159. It expires in 5 minutes.",
    html="<p>Your code is <b>314159</b>.</p>",
)


@pytest.fixture(autouse=True)
async def _closing_sockets_finish() -> AsyncIterator[None]:
    """asyncio finishes closing an SMTP client's (TLS) socket a few loop ticks after ``close()``
    returns; let it, before the test's event loop ends and the socket is collected unclosed."""
    yield
    await asyncio.sleep(0.2)


@pytest.fixture
def settings(backend: Backend, tmp_path: Path, keyring_file: Path, smtp_server: SmtpServer) -> Settings:
    return smtp_settings(backend, tmp_path, keyring_file, smtp_server)


async def _audit(services: Services, org: Organization, action: str) -> list[AuditEntry]:
    async with services.db.tenant(org.id) as session:
        query = select(AuditEntry).where(AuditEntry.org_id == org.id, AuditEntry.action == action)
        return list((await session.scalars(query)).all())


async def test_starttls_with_authentication_delivers_the_message(
    services: Services, org: Organization, smtp_server: SmtpServer
) -> None:
    smtp_server.start()
    message_id = await queue(services, org, CODE_MAIL)

    report = await MessageDelivery(services).run(org_ids=[org.id])

    assert report.delivered == 1 and not report.errors
    [mail] = smtp_server.inbox.received
    assert mail["To"] == "asha@example.com" and mail["Subject"] == "Your NamoID code"
    assert mail["From"] == "NamoID <no-reply@namoid.example>"
    assert "Your code is 314159" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<b>314159</b>" in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert smtp_server.inbox.logins == ["namoid"]
    [row] = await message_rows(services, org)
    assert row.delivered_at is not None and row.message_id == message_id
    [sent] = await _audit(services, org, "message.sent")
    assert sent.target_id == str(message_id)
    assert sent.detail["destination"] == "a***@example.com" and len(sent.detail["destination_hash"]) == 64


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_implicit_tls(
    backend: Backend, tmp_path: Path, keyring_file: Path, smtp_server: SmtpServer
) -> None:
    smtp_server.start(implicit=True)
    settings = smtp_settings(backend, tmp_path, keyring_file, smtp_server, smtp_tls="implicit")

    await SmtpSender(settings).send_email(CODE_MAIL)

    assert [m["Subject"] for m in smtp_server.inbox.received] == ["Your NamoID code"]
    assert smtp_server.inbox.logins == ["namoid"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("server", "change", "reason"),
    [
        ("no-tls", {}, "smtp: SMTPException"),  # the server offers no STARTTLS: never send in clear text
        ("starttls", {"smtp_ca_file": None}, "smtp: SSLCertVerificationError"),  # certificate not trusted
        # Bad credentials: an operator fixes them.
        ("starttls", {"smtp_password": "wrong"}, "smtp: 535"),  # pragma: allowlist secret
    ],
)
async def test_an_unsafe_or_refused_connection_sends_nothing_and_is_retried(
    backend: Backend,
    tmp_path: Path,
    keyring_file: Path,
    smtp_server: SmtpServer,
    server: str,
    change: dict[str, object],
    reason: str,
) -> None:
    smtp_server.start(starttls=server == "starttls")
    settings = smtp_settings(backend, tmp_path, keyring_file, smtp_server, **change)

    with pytest.raises(SendFailed) as failed:
        await SmtpSender(settings).send_email(CODE_MAIL)

    assert not failed.value.permanent
    assert failed.value.reason == reason
    assert not smtp_server.inbox.received


async def test_an_outage_delays_the_message_and_never_loses_it(
    services: Services, org: Organization, smtp_server: SmtpServer
) -> None:
    """The SMTP server is down: the message is retried with backoff and delivered once it is back."""
    await queue(services, org, CODE_MAIL)
    delivery = MessageDelivery(services)
    now = utcnow()

    first = await delivery.run(now=now, org_ids=[org.id])
    assert first.retried == 1 and first.delivered == 0
    [row] = await message_rows(services, org)
    assert row.attempts == 1 and row.delivered_at is None and row.failed_at is None
    assert row.next_attempt_at == now + backoff(1)

    smtp_server.start()
    early = await delivery.run(now=now + backoff(1) - timedelta(seconds=1), org_ids=[org.id])
    assert early.delivered == 0 and not smtp_server.inbox.received  # not due yet

    later = await delivery.run(now=now + backoff(1), org_ids=[org.id])
    assert later.delivered == 1
    assert [m["Subject"] for m in smtp_server.inbox.received] == ["Your NamoID code"]
    [row] = await message_rows(services, org)
    assert row.attempts == 2 and row.delivered_at is not None
    assert not await _audit(services, org, "message.failed")


async def test_a_refused_recipient_fails_for_good_and_is_audited(
    services: Services, org: Organization, smtp_server: SmtpServer
) -> None:
    smtp_server.inbox.refuse.add("gone@example.com")
    smtp_server.start()
    message_id = await queue(
        services, org, EmailMessage(to="gone@example.com", subject="Hi", text="Code 271828")
    )

    report = await MessageDelivery(services).run(org_ids=[org.id])

    assert report.failed == 1 and report.retried == 0
    [row] = await message_rows(services, org)
    assert row.failed_at is not None and row.last_error == "smtp: recipient refused"
    [failed] = await _audit(services, org, "message.failed")
    assert failed.target_id == str(message_id) and failed.outcome == "failure"
    assert failed.detail["destination"] == "g***@example.com"
    assert failed.detail["error"] == "smtp: recipient refused"
