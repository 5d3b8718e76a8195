"""Codes through the real senders: a real SMTP server (aiosmtpd), SES through moto, End User
Messaging SMS through botocore's Stubber (moto lacks that API), each test reading the code from
what the provider received."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.stub import ANY, Stubber

from namoid.notify.aws import EndUserMessagingSender, SesSender
from namoid.notify.delivery import MessageDelivery
from namoid.notify.senders import Senders
from namoid.notify.smtp import SmtpSender
from namoid.services import Services
from namoid.storage.models import Organization
from tests.conftest import Backend
from tests.features.conftest import MakeUser
from tests.features.notify.conftest import SmtpServer, smtp_settings
from tests.features.notify.test_aws import ENTITY, aws_settings
from tests.features.otpflows.conftest import CODE, CodeFlow, set_policy

OTP_TEMPLATE = "1107161234567890123"


def _sms_sender(tmp_path: Path) -> tuple[EndUserMessagingSender, list[dict[str, Any]]]:
    """The real SMS sender; what it asks of the API is kept (the Stubber checks it, we read the code)."""
    sender = EndUserMessagingSender(aws_settings(tmp_path, sms_dlt_templates={"otp_sign_in": OTP_TEMPLATE}))
    calls: list[dict[str, Any]] = []
    sender.client.meta.events.register(
        "provide-client-params.pinpoint-sms-voice-v2.SendTextMessage",
        lambda params, **_: calls.append(dict(params)),
    )
    return sender, calls


async def test_email_code_through_a_real_smtp_server(
    code_flow: CodeFlow, services: Services, org: Organization, backend: Backend, tmp_path: Path,
    keyring_file: Path, smtp_server: SmtpServer,
) -> None:  # fmt: skip
    smtp_server.start()
    await set_policy(services, org, methods=("email_otp",))
    email = SmtpSender(smtp_settings(backend, tmp_path, keyring_file, smtp_server))
    delivery = MessageDelivery(services, Senders(email=email, sms=_sms_sender(tmp_path)[0]))
    entry = await code_flow.ask("sign_in", "email", code_flow.flow.user.email)
    assert (await delivery.run(org_ids=[org.id])).delivered == 1
    [mail] = smtp_server.inbox.received
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    code = CODE.search(text).group(1)  # type: ignore[union-attr]
    assert code in html and code in mail["Subject"] and mail["To"] == code_flow.flow.user.email
    claims = await code_flow.id_claims(await code_flow.finish(await code_flow.enter(entry, code)))
    assert claims["amr"] == ["otp"]


async def test_email_code_in_hindi_through_ses(
    code_flow: CodeFlow, services: Services, org: Organization, tmp_path: Path, ses: Any
) -> None:
    await set_policy(services, org, methods=("email_otp",))
    delivery = MessageDelivery(
        services, Senders(email=SesSender(aws_settings(tmp_path)), sms=_sms_sender(tmp_path)[0])
    )
    code_flow.http.headers["Accept-Language"] = "hi-IN, en;q=0.5"
    entry = await code_flow.ask("sign_in", "email", code_flow.flow.user.email)
    assert (await delivery.run(org_ids=[org.id])).delivered == 1
    [sent] = ses.sent_messages
    assert sent.destinations == {"ToAddresses": [code_flow.flow.user.email]}
    assert "आपका" in sent.subject
    code = CODE.search(sent.subject).group(1)  # type: ignore[union-attr]
    claims = await code_flow.id_claims(await code_flow.finish(await code_flow.enter(entry, code)))
    assert claims["amr"] == ["otp"]


async def test_sms_code_through_end_user_messaging_with_dlt_parameters(
    code_flow: CodeFlow, services: Services, org: Organization, tmp_path: Path, make_user: MakeUser
) -> None:
    await set_policy(services, org, methods=("sms_otp",))
    await make_user(phone="+919812345670", phone_verified=True)
    sms, calls = _sms_sender(tmp_path)
    delivery = MessageDelivery(services, Senders(email=SesSender(aws_settings(tmp_path)), sms=sms))
    entry = await code_flow.ask("sign_in", "sms", "+91 98123 45670")
    expected = {
        "DestinationPhoneNumber": "+919812345670",
        "OriginationIdentity": "NAMOID",
        "MessageBody": ANY,
        "MessageType": "TRANSACTIONAL",
        "ConfigurationSetName": "otp-events",
        "DestinationCountryParameters": {"IN_ENTITY_ID": ENTITY, "IN_TEMPLATE_ID": OTP_TEMPLATE},
    }
    with Stubber(sms.client) as stub:
        stub.add_response("send_text_message", {"MessageId": "m-1"}, expected)
        assert (await delivery.run(org_ids=[org.id])).delivered == 1
        stub.assert_no_pending_responses()
    [call] = calls
    code = CODE.search(call["MessageBody"]).group(1)  # type: ignore[union-attr]
    assert call["MessageBody"].endswith(f"@localhost:8443 #{code}")
    claims = await code_flow.id_claims(await code_flow.finish(await code_flow.enter(entry, code)))
    assert claims["amr"] == ["otp", "sms"]
