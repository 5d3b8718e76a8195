"""The dev mailbox: `/dev/mailbox` (dev mode only, the usual security headers) and `namoid dev mailbox`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from namoid.app import create_public_app
from namoid.cli.main import app as cli
from namoid.notify.delivery import MessageDelivery
from namoid.notify.dev import startup_notice
from namoid.notify.messages import EmailMessage, SmsMessage
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization
from tests.features.notify.conftest import queue

MAIL = EmailMessage(to="asha@example.com", subject="Sign-in code", text="Your code is 440512 <b>bold?</b>")
SMS = SmsMessage(to="+919876541234", text="440513 is your code", template="otp")


@pytest.fixture
async def delivered(services: Services, org: Organization) -> Services:
    await queue(services, org, MAIL)
    await queue(services, org, SMS)
    assert (await MessageDelivery(services).run(org_ids=[org.id])).delivered == 2
    return services


async def _client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_public_app(services), client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.base_url) as client:
        yield client


@pytest.fixture
async def dev_http(delivered: Services) -> AsyncIterator[httpx.AsyncClient]:
    delivered.settings = Settings(**(delivered.settings.model_dump() | {"dev_mode": True}))
    async for client in _client(delivered):
        yield client


async def test_the_page_shows_each_message_escaped_with_the_usual_headers(
    dev_http: httpx.AsyncClient,
) -> None:
    page = await dev_http.get("/dev/mailbox")
    assert page.status_code == 200
    assert "Your code is 440512 &lt;b&gt;bold?&lt;/b&gt;" in page.text and "<b>bold?" not in page.text
    assert "440513 is your code" in page.text and "+919876541234" in page.text
    assert page.text.index("440513") < page.text.index("440512")  # newest first
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"


async def test_the_page_does_not_exist_outside_dev_mode(delivered: Services) -> None:
    async for client in _client(delivered):
        response = await client.get("/dev/mailbox", headers={"accept": "text/html"})
        assert response.status_code == 404 and "440512" not in response.text


def test_the_command_lists_the_messages(delivered: Services) -> None:
    env = {"NAMOID_DATA_DIR": str(delivered.settings.data_dir), "NAMOID_DEV_MODE": "true"}
    listed = CliRunner().invoke(cli, ["dev", "mailbox", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    newest, oldest = json.loads(listed.stdout)
    assert (newest["kind"], newest["to"], newest["template"]) == ("sms", "+919876541234", "otp")
    assert (oldest["kind"], oldest["subject"]) == ("email", "Sign-in code")
    human = CliRunner().invoke(cli, ["dev", "mailbox"], env=env)
    assert "Subject: Sign-in code" in human.stdout and "440513 is your code" in human.stdout


def test_the_command_says_when_the_mailbox_is_empty(tmp_path: Path) -> None:
    empty = CliRunner().invoke(cli, ["dev", "mailbox"], env={"NAMOID_DATA_DIR": str(tmp_path)})
    assert empty.exit_code == 0 and "no messages in" in empty.stdout


def test_serve_says_where_messages_go(tmp_path: Path) -> None:
    dev = Settings(data_dir=tmp_path)
    assert "https://localhost:8443/dev/mailbox" in (startup_notice(dev) or "")
    assert "NOT sent" in (startup_notice(Settings(data_dir=tmp_path, dev_mode=False)) or "")
    configured = Settings(
        data_dir=tmp_path, email_sender="ses", email_from="a@b.example",
        sms_sender="end-user-messaging", sms_origination_identity="NAMOID",
    )  # fmt: skip
    assert startup_notice(configured) is None


@pytest.mark.parametrize(
    ("fields", "variable"),
    [({"email_sender": "smtp"}, "NAMOID_EMAIL_FROM"),
     ({"sms_sender": "end-user-messaging"}, "NAMOID_SMS_ORIGINATION_IDENTITY")],
)  # fmt: skip
def test_a_real_sender_needs_its_settings(tmp_path: Path, fields: dict[str, str], variable: str) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings(data_dir=tmp_path, **fields)
