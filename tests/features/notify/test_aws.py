"""Amazon SES v2 through moto, AWS End User Messaging SMS through botocore's Stubber (moto lacks that API).

Only the AWS API is simulated: the senders, the outbox and the worker's delivery are the real ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from namoid.notify.aws import EndUserMessagingSender, SesSender
from namoid.notify.delivery import MessageDelivery
from namoid.notify.dev import DevMailbox
from namoid.notify.messages import EmailMessage, SendFailed, SmsMessage
from namoid.notify.senders import Senders, build_senders
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization
from tests.conftest import Backend
from tests.features.notify.conftest import message_rows, queue

FROM = "no-reply@namoid.example"
ENTITY = "1101111111111111111"
OTP_TEMPLATE = "1107161234567890123"
MAIL = EmailMessage(to="ravi@example.com", subject="Your code", text="Code 161803", html="<p>Code 161803</p>")
SMS = SmsMessage(
    to="+919876541234", text="161803 is your NamoID code.\n\n@id.namoid.example #161803", template="otp"
)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, so nothing here can reach a real AWS account."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def aws_settings(tmp_path: Path, **extra: Any) -> Settings:
    fields: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "email_sender": "ses",
        "email_from": FROM,
        "sms_sender": "end-user-messaging",
        "sms_origination_identity": "NAMOID",
        "sms_configuration_set": "otp-events",
        "sms_dlt_entity_id": ENTITY,
        "sms_dlt_templates": {"otp": OTP_TEMPLATE},
    }
    return Settings(**(fields | extra))


@pytest.fixture
def ses() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("sesv2", region_name="ap-south-1")
        client.create_email_identity(EmailIdentity=FROM)
        client.create_email_identity(EmailIdentity="acme.example")  # a second org's own domain
        client.create_configuration_set(ConfigurationSetName="transactional")
        yield ses_backends[DEFAULT_ACCOUNT_ID]["ap-south-1"]


def test_senders_follow_the_settings(tmp_path: Path) -> None:
    senders = build_senders(aws_settings(tmp_path))
    assert isinstance(senders.email, SesSender) and isinstance(senders.sms, EndUserMessagingSender)
    assert senders.email.client.meta.region_name == "ap-south-1"
    dev = build_senders(Settings(data_dir=tmp_path / "data"))
    assert isinstance(dev.email, DevMailbox) and dev.sms is dev.email


async def test_ses_sends_from_the_region_with_the_configuration_set(ses: Any, tmp_path: Path) -> None:
    sender = SesSender(aws_settings(tmp_path, ses_configuration_set="transactional"))
    assert sender.request(MAIL)["ConfigurationSetName"] == "transactional"

    await sender.send_email(MAIL)
    await sender.send_email(EmailMessage(to="mira@example.com", subject="Hi", text="plain only",
                                         from_address="NamoID Acme <acme@acme.example>"))  # fmt: skip

    first, second = ses.sent_messages
    assert (first.source, first.subject, first.body) == (FROM, "Your code", "<p>Code 161803</p>")
    assert first.destinations == {"ToAddresses": ["ravi@example.com"]}
    assert second.source == "NamoID Acme <acme@acme.example>" and second.body == "plain only"


async def test_ses_refusing_an_unverified_sender_fails_for_good(ses: Any, tmp_path: Path) -> None:
    sender = SesSender(aws_settings(tmp_path, email_from="stranger@elsewhere.example"))
    with pytest.raises(SendFailed) as failed:
        await sender.send_email(MAIL)
    assert failed.value.permanent and failed.value.reason == "ses: MessageRejected"
    assert not ses.sent_messages


def _expected(message: SmsMessage, **extra: Any) -> dict[str, Any]:
    return {
        "DestinationPhoneNumber": message.to,
        "OriginationIdentity": "NAMOID",
        "MessageBody": message.text,
        "MessageType": "TRANSACTIONAL",
        "ConfigurationSetName": "otp-events",
        **extra,
    }


async def test_sms_to_india_carries_the_dlt_entity_and_template(tmp_path: Path) -> None:
    sender = EndUserMessagingSender(aws_settings(tmp_path))
    dlt = {"DestinationCountryParameters": {"IN_ENTITY_ID": ENTITY, "IN_TEMPLATE_ID": OTP_TEMPLATE}}
    abroad = SmsMessage(to="+14155550123", text="161803 is your code", template="otp")
    with Stubber(sender.client) as stub:
        stub.add_response("send_text_message", {"MessageId": "m-1"}, _expected(SMS, **dlt))
        stub.add_response("send_text_message", {"MessageId": "m-2"}, _expected(abroad))
        await sender.send_sms(SMS)
        await sender.send_sms(abroad)
        stub.assert_no_pending_responses()


async def test_sms_to_india_without_a_registered_template_is_never_sent(tmp_path: Path) -> None:
    sender = EndUserMessagingSender(aws_settings(tmp_path, sms_dlt_templates={}))
    with Stubber(sender.client), pytest.raises(SendFailed) as failed:  # any call would fail the Stubber
        await sender.send_sms(SMS)
    assert failed.value.permanent and "DLT template" in failed.value.reason


@pytest.mark.parametrize(
    ("code", "status", "permanent"),
    [("ThrottlingException", 429, False), ("InternalServerException", 500, False),
     ("ValidationException", 400, True), ("ConflictException", 409, True)],
)  # fmt: skip
async def test_sms_errors_retry_unless_the_request_itself_is_wrong(
    tmp_path: Path, code: str, status: int, permanent: bool
) -> None:
    sender = EndUserMessagingSender(aws_settings(tmp_path))
    with Stubber(sender.client) as stub:
        stub.add_client_error("send_text_message", code, "refused", status)
        with pytest.raises(SendFailed) as failed:
            await sender.send_sms(SMS)
    assert failed.value.permanent is permanent and failed.value.reason == f"sms: {code}"


@pytest.fixture
def settings(backend: Backend, tmp_path: Path, keyring_file: Path) -> Settings:
    return aws_settings(tmp_path, database_url=backend.app_url, keyring_file=keyring_file, dev_mode=False)


async def test_sms_through_the_outbox_reaches_the_api_with_the_exact_parameters(
    services: Services, org: Organization, tmp_path: Path
) -> None:
    sms = EndUserMessagingSender(services.settings)
    delivery = MessageDelivery(services, Senders(email=DevMailbox(tmp_path / "unused"), sms=sms))
    await queue(services, org, SMS)
    dlt = {"DestinationCountryParameters": {"IN_ENTITY_ID": ENTITY, "IN_TEMPLATE_ID": OTP_TEMPLATE}}
    with Stubber(sms.client) as stub:
        stub.add_response("send_text_message", {"MessageId": "m-1"}, _expected(SMS, **dlt))
        report = await delivery.run(org_ids=[org.id])
        stub.assert_no_pending_responses()
    assert report.delivered == 1
    [row] = await message_rows(services, org)
    assert row.kind == "sms" and row.delivered_at is not None


async def test_ses_through_the_outbox(services: Services, org: Organization, ses: Any) -> None:
    await queue(services, org, MAIL)
    report = await MessageDelivery(services).run(org_ids=[org.id])
    assert report.delivered == 1
    [sent] = ses.sent_messages
    assert sent.destinations == {"ToAddresses": ["ravi@example.com"]}


async def test_a_message_never_reaches_the_log_even_at_debug(
    ses: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """botocore logs each request's body at DEBUG: its loggers are kept above that."""
    caplog.set_level(logging.DEBUG)
    await SesSender(aws_settings(tmp_path)).send_email(MAIL)
    assert ses.sent_messages and "161803" not in caplog.text
