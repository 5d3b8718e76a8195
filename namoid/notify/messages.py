"""What NamoID sends (an email, an SMS), the sender protocols, and how a destination is shown.

A sender either returns (the provider accepted the message) or raises ``SendFailed``;
``permanent`` says retrying cannot help (the provider rejected this very message), else
the outbox retries it with backoff. Destinations reach the audit log only masked, next
to a keyed hash (``ratelimit.login.account_key``, the key the OTP limits count under).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

Kind = Literal["email", "sms"]
KINDS: tuple[Kind, ...] = ("email", "sms")


@dataclass(frozen=True, slots=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str | None = None
    #: The org's own from-address; None = ``NAMOID_EMAIL_FROM``.
    from_address: str | None = None

    kind: Kind = field(default="email", init=False)


@dataclass(frozen=True, slots=True)
class SmsMessage:
    to: str  # E.164, e.g. +919876543210
    text: str
    #: Which template the text was made from: India's DLT registers each one (``NAMOID_SMS_DLT_TEMPLATES``).
    template: str

    kind: Kind = field(default="sms", init=False)


Message = EmailMessage | SmsMessage


def to_payload(message: Message) -> dict[str, Any]:
    return asdict(message)


def from_payload(payload: dict[str, Any]) -> Message:
    """The message a payload was made from; ValueError if it is not one."""
    fields = {key: value for key, value in payload.items() if key != "kind"}
    try:
        if payload.get("kind") == "email":
            return EmailMessage(**fields)
        if payload.get("kind") == "sms":
            return SmsMessage(**fields)
    except TypeError as exc:
        raise ValueError(f"malformed message payload: {exc}") from None
    raise ValueError("unknown message kind")


class SendFailed(Exception):
    """The provider did not take the message; ``permanent`` = it never will (no retry)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason[:200]
        self.permanent = permanent


class EmailSender(Protocol):
    async def send_email(self, message: EmailMessage) -> None: ...


class SmsSender(Protocol):
    async def send_sms(self, message: SmsMessage) -> None: ...


def mask_email(address: str) -> str:
    """``alice@example.com`` → ``a***@example.com``: the domain stays, the mailbox does not."""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_phone(number: str) -> str:
    """``+919876541234`` → ``+91******1234``: the leading three and last four characters stay."""
    if len(number) < 9:
        return "***"
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask(message: Message) -> str:
    return mask_email(message.to) if message.kind == "email" else mask_phone(message.to)
