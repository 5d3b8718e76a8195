"""The emails and SMS that carry a one-time code, in English or Hindi (issue 11 item 7).

Only what the message needs: the code, what it is for, the org's name and how long it
lasts; no other personal data. The language comes from the sign-in request's ``ui_locales``
(OIDC Core §3.1.2.1), else the browser's ``Accept-Language`` (RFC 9110 §12.5.4). An SMS
ends with the origin-bound line of the WebOTP format (``@host #code``), so a browser offers
to fill the code only on NamoID's own origin. The SMS template names (``otp_sign_in``, …)
are what India's DLT registers, one each (``NAMOID_SMS_DLT_TEMPLATES``).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from namoid.accounts.otp import Purpose
from namoid.notify.messages import EmailMessage, SmsMessage
from namoid.notify.overrides import NO_OVERRIDES, Overrides, render
from namoid.web.templates import environment

Locale = Literal["en", "hi"]
LOCALES: tuple[Locale, ...] = ("en", "hi")

#: What each purpose is called in a message, per language.
PURPOSE_TEXT: dict[Locale, dict[str, str]] = {
    "en": {
        "sign_in": "sign in",
        "second_factor": "finish signing in",
        "sign_up": "create your account",
        "password_reset": "reset your password",  # pragma: allowlist secret
        "verify_email": "verify your email address",
        "verify_phone": "verify your phone number",
    },
    "hi": {
        "sign_in": "साइन इन करने",
        "second_factor": "साइन इन पूरा करने",
        "sign_up": "अपना खाता बनाने",
        "password_reset": "अपना पासवर्ड बदलने",
        "verify_email": "अपना ईमेल पता सत्यापित करने",
        "verify_phone": "अपना फ़ोन नंबर सत्यापित करने",
    },
}
SUBJECT: dict[Locale, str] = {
    "en": "{code} is your {org} code",
    "hi": "{code} आपका {org} कोड है",
}
SMS_TEXT: dict[Locale, str] = {
    "en": "{code} is your {org} code to {purpose}. It expires in {minutes} minutes. Never share it.",
    "hi": "{code} आपका {org} कोड है, {purpose} के लिए। यह {minutes} मिनट में समाप्त होगा। इसे किसी से साझा न करें।",
}


def choose_locale(accept_language: str | None, ui_locales: str | None = None) -> Locale:
    """The first supported language of the relying party's ``ui_locales`` (OIDC Core §3.1.2.1,
    in their order), else of the ``Accept-Language`` header by its q-values (RFC 9110
    §12.5.4), else English."""
    for tag in (ui_locales or "").split()[:10]:
        language = tag.lower().split("-")[0]
        if language in LOCALES:
            return language
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower().split("-")[0]))
    for negative_quality, _, language in sorted(ranked):
        if negative_quality < 0 and language in LOCALES:
            return language
    return "en"


def web_otp_line(base_url: str, code: str) -> str:
    """The WebOTP origin-bound line: ``@host #code`` (WICG WebOTP, SMS format)."""
    return f"@{urlsplit(base_url).netloc} #{code}"


def sms(
    to: str,
    code: str,
    purpose: Purpose,
    org_name: str,
    minutes: int,
    locale: Locale,
    base_url: str,
    overrides: Overrides = NO_OVERRIDES,
) -> SmsMessage:
    """The SMS; the org's wording if it has one (namoid.notify.overrides), then the WebOTP line."""
    context = _context(code, purpose, org_name, minutes, locale)
    text = render(overrides, "code_sms", locale, "text", context) or SMS_TEXT[locale].format(**context)
    return SmsMessage(to=to, text=f"{text}\n\n{web_otp_line(base_url, code)}", template=f"otp_{purpose}")


def email(
    to: str,
    code: str,
    purpose: Purpose,
    org_name: str,
    minutes: int,
    locale: Locale,
    *,
    from_address: str | None = None,
    overrides: Overrides = NO_OVERRIDES,
) -> EmailMessage:
    """The email (text and HTML); each part in the org's wording if it has one."""
    context = _context(code, purpose, org_name, minutes, locale)

    def part(name: str, built_in: str) -> str:
        return render(overrides, "code_email", locale, name, context) or built_in

    return EmailMessage(
        to=to,
        subject=part("subject", SUBJECT[locale].format(**context)),
        text=part("text", environment.get_template(f"messages/code_email.{locale}.txt").render(context)),
        html=part("html", environment.get_template(f"messages/code_email.{locale}.html").render(context)),
        from_address=from_address,
    )


def _context(code: str, purpose: Purpose, org_name: str, minutes: int, locale: Locale) -> dict[str, object]:
    return {"code": code, "org": org_name, "purpose": PURPOSE_TEXT[locale][purpose], "minutes": minutes}
