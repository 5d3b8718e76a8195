"""The SMTP sender (RFC 5321) over aiosmtplib: STARTTLS (RFC 3207) or implicit TLS (RFC 8314 §3.3).

Never in clear text: with ``starttls`` the server must offer STARTTLS or the send fails.
Certificates are verified (the system's CAs plus ``NAMOID_SMTP_CA_FILE``). A reply the
server will never change its mind about (5xx for the recipient or the data) fails the
message for good; anything else (no connection, a timeout, 4xx, bad credentials, which
an operator fixes) is retried by the outbox.
"""

from __future__ import annotations

import contextlib
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from namoid.notify.messages import EmailMessage, SendFailed
from namoid.settings import Settings

_AUTH_FAILED = 535


def mime(message: EmailMessage, default_from: str) -> MimeMessage:
    """The RFC 5322 message: a text part, and an HTML alternative when there is one."""
    mail = MimeMessage()
    mail["From"] = message.from_address or default_from
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=(message.from_address or default_from).rpartition("@")[2] or None)
    mail.set_content(message.text)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
    return mail


class SmtpSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tls = ssl.create_default_context()
        if settings.smtp_ca_file:
            self.tls.load_verify_locations(cafile=str(settings.smtp_ca_file))

    async def send_email(self, message: EmailMessage) -> None:
        s = self.settings
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=password,
            use_tls=s.smtp_tls == "implicit",
            start_tls=s.smtp_tls == "starttls",
            tls_context=self.tls,
            timeout=s.smtp_timeout,
        )
        try:
            await client.connect()  # TLS, then AUTH when a username is set
            await client.send_message(mime(message, s.email_from))
            with contextlib.suppress(aiosmtplib.SMTPException):
                await client.quit()
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise SendFailed("smtp: recipient refused", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            permanent = exc.code >= 500 and exc.code != _AUTH_FAILED
            raise SendFailed(f"smtp: {exc.code}", permanent=permanent) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"smtp: {type(exc).__name__}") from exc
        finally:
            client.close()  # also when connecting failed half-way (aiosmtplib.send leaks the socket then)
