"""Amazon SES v2 (email) and AWS End User Messaging SMS senders, over boto3.

boto3 blocks, so every call runs in a worker thread (``asyncio.to_thread``); the clients
are made once (they are thread-safe) with bounded connect/read timeouts. A request the
service refuses as invalid (a 4xx other than throttling) fails the message for good;
throttling, 5xx and network errors are retried by the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from namoid.notify.messages import EmailMessage, SendFailed, SmsMessage
from namoid.settings import Settings

_RETRYABLE_CODES = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException"})
#: botocore logs each request's body at DEBUG (an SMS text, a code): never below INFO, whatever
#: NAMOID_LOG_LEVEL says.
for _name in ("botocore", "boto3"):
    logging.getLogger(_name).setLevel(logging.INFO)

#: India's DLT (TRAI's commercial-communication rules): every SMS to +91 names its registered template.
INDIA = "+91"


def _client(service: str, region: str, timeout: float) -> Any:
    config = Config(
        region_name=region,
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"mode": "standard", "max_attempts": 2},
    )
    return boto3.client(service, config=config)


async def _call(operation: Any, service: str, **params: Any) -> None:
    try:
        await asyncio.to_thread(operation, **params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        permanent = 400 <= status < 500 and code not in _RETRYABLE_CODES
        raise SendFailed(f"{service}: {code}", permanent=permanent) from exc
    except BotoCoreError as exc:
        raise SendFailed(f"{service}: {type(exc).__name__}") from exc


class SesSender:
    """SES v2 ``SendEmail`` with simple content (text, and HTML when there is one)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = _client("sesv2", settings.ses_region, settings.aws_timeout)

    def request(self, message: EmailMessage) -> dict[str, Any]:
        body: dict[str, Any] = {"Text": {"Data": message.text, "Charset": "UTF-8"}}
        if message.html is not None:
            body["Html"] = {"Data": message.html, "Charset": "UTF-8"}
        params: dict[str, Any] = {
            "FromEmailAddress": message.from_address or self.settings.email_from,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Simple": {"Subject": {"Data": message.subject, "Charset": "UTF-8"}, "Body": body}},
        }
        if self.settings.ses_configuration_set:
            params["ConfigurationSetName"] = self.settings.ses_configuration_set
        return params

    async def send_email(self, message: EmailMessage) -> None:
        await _call(self.client.send_email, "ses", **self.request(message))


class EndUserMessagingSender:
    """``pinpoint-sms-voice-v2`` ``SendTextMessage``: transactional, from the configured identity."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = _client("pinpoint-sms-voice-v2", settings.sms_region, settings.aws_timeout)

    def request(self, message: SmsMessage) -> dict[str, Any]:
        """The call's parameters; SendFailed (permanent) if an Indian number lacks its DLT template."""
        s = self.settings
        params: dict[str, Any] = {
            "DestinationPhoneNumber": message.to,
            "OriginationIdentity": s.sms_origination_identity,
            "MessageBody": message.text,
            "MessageType": "TRANSACTIONAL",
        }
        if s.sms_configuration_set:
            params["ConfigurationSetName"] = s.sms_configuration_set
        if message.to.startswith(INDIA) and s.sms_dlt_entity_id:
            template_id = s.sms_dlt_templates.get(message.template)
            if template_id is None:
                raise SendFailed(f"sms: no DLT template id for {message.template!r}", permanent=True)
            params["DestinationCountryParameters"] = {
                "IN_ENTITY_ID": s.sms_dlt_entity_id,
                "IN_TEMPLATE_ID": template_id,
            }
        return params

    async def send_sms(self, message: SmsMessage) -> None:
        await _call(self.client.send_text_message, "sms", **self.request(message))
