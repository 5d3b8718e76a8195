"""The configured senders (``NAMOID_EMAIL_SENDER``, ``NAMOID_SMS_SENDER``), built once per worker."""

from __future__ import annotations

from dataclasses import dataclass

from namoid.notify.aws import EndUserMessagingSender, SesSender
from namoid.notify.dev import DevMailbox, mailbox_dir
from namoid.notify.messages import EmailSender, SmsSender
from namoid.notify.smtp import SmtpSender
from namoid.settings import Settings


@dataclass(frozen=True, slots=True)
class Senders:
    email: EmailSender
    sms: SmsSender


def build_senders(settings: Settings) -> Senders:
    mailbox = DevMailbox(mailbox_dir(settings.data_dir))
    email: EmailSender = mailbox
    if settings.email_sender == "smtp":
        email = SmtpSender(settings)
    elif settings.email_sender == "ses":
        email = SesSender(settings)
    sms: SmsSender = mailbox if settings.sms_sender == "dev" else EndUserMessagingSender(settings)
    return Senders(email=email, sms=sms)
