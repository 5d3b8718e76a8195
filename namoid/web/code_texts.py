"""What the one-time-code pages say, in English and Hindi (issue 11): the language comes from the
sign-in request's ``ui_locales`` (OIDC Core §3.1.2.1), else the browser's ``Accept-Language``
(``code_messages.choose_locale``). A form error about the address itself (an invalid or
blocked number) comes from the validators, in English."""

from __future__ import annotations

from namoid.accounts.users import MAX_PASSWORD, MIN_PASSWORD
from namoid.web.code_messages import Locale

#: The page title per (purpose, channel).
TITLES: dict[Locale, dict[tuple[str, str], str]] = {
    "en": {
        ("sign_in", "email"): "Sign in with a code by email",
        ("sign_in", "sms"): "Sign in with a code by SMS",
        ("sign_up", "email"): "Create an account",
        ("password_reset", "email"): "Reset your password",
    },
    "hi": {
        ("sign_in", "email"): "ईमेल पर कोड से साइन इन करें",
        ("sign_in", "sms"): "SMS पर कोड से साइन इन करें",
        ("sign_up", "email"): "खाता बनाएँ",
        ("password_reset", "email"): "अपना पासवर्ड बदलें",
    },
}

#: What the pages say; ``{digits}``, ``{client}``, ``{destination}`` are filled in.
PAGE: dict[Locale, dict[str, str]] = {
    "en": {
        "request_lead": "for {client}. We will send you a {digits}-digit code.",
        "mobile": "Mobile number",
        "mobile_help": "With the country code, e.g. +91 98123 45678.",
        "email": "Email",
        "send": "Send code",
        "back": "Back to sign in",
        "entry_title": "Enter your code",
        "entry_lead": "If {destination} can receive codes for {client}, a {digits}-digit code is on its way. "
        "It works for 5 minutes.",
        "code": "Code",
        "new_password": "New password",  # pragma: allowlist secret
        "password_help": f"At least {MIN_PASSWORD} characters.",
        "continue": "Continue",
        "resend": "Send a new code",
    },
    "hi": {
        "request_lead": "{client} के लिए। हम आपको {digits} अंकों का कोड भेजेंगे।",
        "mobile": "मोबाइल नंबर",
        "mobile_help": "देश कोड के साथ, जैसे +91 98123 45678.",
        "email": "ईमेल",
        "send": "कोड भेजें",
        "back": "साइन इन पर वापस जाएँ",
        "entry_title": "अपना कोड दर्ज करें",
        "entry_lead": "यदि {destination} पर {client} के कोड आ सकते हैं, तो {digits} अंकों का कोड भेजा जा रहा है। "
        "यह 5 मिनट तक मान्य है।",
        "code": "कोड",
        "new_password": "नया पासवर्ड",
        "password_help": f"कम से कम {MIN_PASSWORD} अक्षर।",
        "continue": "आगे बढ़ें",
        "resend": "नया कोड भेजें",
    },
}

#: What a refused code (or form) tells the person who typed it.
ERRORS: dict[Locale, dict[str, str]] = {
    "en": {
        "wrong": "That code is not right. Check the newest message and try again.",
        "dead": "Too many wrong codes: this one no longer works. Send a new code.",
        "expired": "That code has expired. Send a new code.",
        "used": "That code was already used. Send a new code.",
        "unknown": "That code does not belong to this sign-in. Go back and send a new code.",
        "malformed": "Enter the {digits}-digit code from the message, digits 0-9 only.",
        "resend_refused": "A new code can be sent 30 seconds after the last one, up to 5 codes. "
        "Wait a moment.",
        "password_rule": f"Choose a new password of {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
    },
    "hi": {
        "wrong": "यह कोड सही नहीं है। सबसे नया संदेश देखें और फिर से कोशिश करें।",
        "dead": "बहुत सारे गलत कोड: यह कोड अब काम नहीं करेगा। नया कोड भेजें।",
        "expired": "इस कोड की समय-सीमा समाप्त हो गई है। नया कोड भेजें।",
        "used": "यह कोड पहले ही इस्तेमाल हो चुका है। नया कोड भेजें।",
        "unknown": "यह कोड इस साइन इन का नहीं है। वापस जाएँ और नया कोड भेजें।",
        "malformed": "संदेश में आया {digits} अंकों का कोड दर्ज करें, केवल 0-9 अंक।",
        "resend_refused": "पिछले कोड के 30 सेकंड बाद ही नया कोड भेजा जा सकता है, अधिकतम 5 कोड। थोड़ा रुकें।",
        "password_rule": f"{MIN_PASSWORD} से {MAX_PASSWORD} अक्षरों का नया पासवर्ड चुनें।",
    },
}


def error(locale: Locale, key: str, digits: int) -> str:
    return ERRORS[locale][key].format(digits=digits)
