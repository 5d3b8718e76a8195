"""Fixtures for message delivery: a real SMTP server (aiosmtpd, TLS) and helpers to queue messages."""

from __future__ import annotations

import email
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message as MimeMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from namoid.crypto.tls import ensure_dev_certificate
from namoid.notify import outbox
from namoid.notify.messages import Message
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization, OutboxEntry
from namoid.storage.repos import event_outbox
from tests.conftest import Backend
from tests.e2e.test_server import free_port
from tests.features.conftest import ADMIN

SMTP_USER = "namoid"
SMTP_PASSWORD = "smtp test password"  # pragma: allowlist secret


@dataclass
class Inbox:
    """The aiosmtpd handler: keeps every message it accepts; refuses the recipients in ``refuse``."""

    received: list[MimeMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        if ok:
            self.logins.append(SMTP_USER)
        return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    ca_file: Path
    tls: ssl.SSLContext
    controller: Controller | None = None

    def start(self, *, implicit: bool = False, starttls: bool = True) -> None:
        """Listen on ``port``: STARTTLS required (auth required too), implicit TLS, or no TLS at all."""
        options: dict[str, Any] = {"authenticator": self.inbox.authenticate, "auth_required": True}
        if implicit:
            # aiosmtpd cannot tell an implicit-TLS socket from a plain one: AUTH is offered on it regardless.
            options |= {"ssl_context": self.tls, "auth_require_tls": False, "auth_required": False}
        elif starttls:
            options |= {"tls_context": self.tls, "require_starttls": True}
        else:
            options = {}
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(scope="session")
def smtp_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_dev_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_server(smtp_cert: tuple[Path, Path]) -> Iterator[SmtpServer]:
    """A real SMTP server on a free port, not yet listening: ``smtp_server.start()``."""
    cert, key = smtp_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer(Inbox(), free_port(), cert, context)
    yield server
    server.stop()


def smtp_settings(
    backend: Backend, tmp_path: Path, keyring_file: Path, server: SmtpServer, **extra: Any
) -> Settings:
    fields: dict[str, Any] = {
        "database_url": backend.app_url,
        "data_dir": tmp_path / "data",
        "keyring_file": keyring_file,
        "dev_mode": False,
        "email_sender": "smtp",
        "email_from": "NamoID <no-reply@namoid.example>",
        "smtp_host": "localhost",
        "smtp_port": server.port,
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "smtp_ca_file": server.ca_file,
        "smtp_timeout": 2.0,
    }
    return Settings(**(fields | extra))


async def queue(services: Services, org: Organization, message: Message) -> uuid.UUID:
    async with services.db.tenant(org.id) as session:
        return await outbox.enqueue(session, services.keyring, services.wakeup, org.id, message, ADMIN)


async def message_rows(services: Services, org: Organization) -> list[OutboxEntry]:
    """The org's email and SMS rows, oldest first."""
    async with services.db.tenant(org.id) as session:
        return list(reversed(await event_outbox.list_messages(session, org.id)))
