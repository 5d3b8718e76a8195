"""A test-mode org (issue 11 item 6): every message lands in its inbox, none reaches a sender,
although the worker here has real senders configured (a real SMTP server; End User Messaging
behind a Stubber that fails any call)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from namoid.cli.main import app
from namoid.notify import outbox
from namoid.notify.delivery import MessageDelivery
from namoid.notify.senders import Senders
from namoid.notify.smtp import SmtpSender
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy import organizations
from tests.conftest import Backend
from tests.features.conftest import ADMIN, MakeUser
from tests.features.notify.conftest import SmtpServer, smtp_settings
from tests.features.otpflows.conftest import CodeFlow, code_in, set_policy
from tests.features.otpflows.test_delivery import _sms_sender


@pytest.fixture
async def org(services: Services) -> Organization:
    return await organizations.create(
        services.db, services.keyring, f"lab-{uuid.uuid4().hex[:8]}", "Lab", ADMIN, test_mode=True
    )


async def test_every_message_lands_in_the_inbox_and_none_reaches_a_sender(
    code_flow: CodeFlow, services: Services, org: Organization, make_user: MakeUser, backend: Backend,
    tmp_path: Path, keyring_file: Path, smtp_server: SmtpServer,
) -> None:  # fmt: skip
    smtp_server.start()
    await set_policy(services, org, methods=("password", "email_otp", "sms_otp"), registration="open")
    await make_user(phone="+919812345671", phone_verified=True)
    sms, calls = _sms_sender(tmp_path)
    email = SmtpSender(smtp_settings(backend, tmp_path, keyring_file, smtp_server))
    delivery = MessageDelivery(services, Senders(email=email, sms=sms))
    entries = [
        await code_flow.ask("sign_in", "email", code_flow.flow.user.email),
        await code_flow.ask("sign_in", "sms", "+919812345671"),
        await code_flow.ask("sign_up", "email", "researcher@example.com"),
        await code_flow.ask("password_reset", "email", code_flow.flow.user.email),
    ]
    assert [entry.status_code for entry in entries] == [200] * 4
    with Stubber(sms.client):  # no responses queued: any call would raise
        report = await delivery.run(org_ids=[org.id])
    assert report.delivered == 0 and not report.errors
    assert smtp_server.inbox.received == [] and calls == []
    async with services.db.tenant(org.id) as session:
        captured = await outbox.inbox(session, services.keyring, org.id)
    assert sorted(message.to for _, message in captured) == sorted(
        [code_flow.flow.user.email, "+919812345671", "researcher@example.com", code_flow.flow.user.email]
    )
    # The inbox's code works: the flows can be exercised end to end at no cost.
    sms_message = next(message for _, message in captured if message.kind == "sms")
    claims = await code_flow.id_claims(
        await code_flow.finish(await code_flow.enter(entries[1], code_in(sms_message)))
    )
    assert claims["amr"] == ["otp", "sms"]


def test_org_inbox_command_shows_the_captured_messages(
    services: Services, org: Organization, backend: Backend, keyring_file: Path, tmp_path: Path
) -> None:
    env = {
        "NAMOID_DATABASE_URL": backend.app_url,
        "NAMOID_KEYRING_FILE": str(keyring_file),
        "NAMOID_DATA_DIR": str(tmp_path / "data"),
        "NAMOID_DEV_MODE": "false",
    }
    empty = CliRunner().invoke(app, ["org", "inbox", org.slug, "--json"], env=env)
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []
