"""Phone numbers for SMS codes: parsed and normalised to E.164 with ``phonenumbers`` (ITU-T E.164).

A number must be valid, a mobile (or a number that may be either, as in the US), and in one
of the org's allowed calling codes: SMS pumping cannot spend a cent outside them.
"""

from __future__ import annotations

from collections.abc import Sequence

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

#: Numbers written without a + are read as Indian ones.
DEFAULT_REGION = "IN"
_MAX_INPUT = 32
_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class PhoneRefused(ValueError):
    """A number that cannot get an SMS code; the message is fit for the form."""


def normalize_mobile(raw: str, allowed_countries: Sequence[str]) -> str:
    """The E.164 form of ``raw`` (``+919812345678``), or ``PhoneRefused`` saying why not."""
    text = raw.strip()
    if not text or len(text) > _MAX_INPUT or not text.isascii():
        raise PhoneRefused("Enter a mobile number, for example +91 98123 45678.")
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except NumberParseException:
        raise PhoneRefused(
            "That is not a phone number. Enter a mobile number, e.g. +91 98123 45678."
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneRefused("That phone number is not valid. Check it and try again.")
    if phonenumbers.number_type(number) not in _MOBILE:
        raise PhoneRefused("That is not a mobile number: codes are sent by SMS to mobiles only.")
    if f"+{number.country_code}" not in allowed_countries:
        raise PhoneRefused("Codes cannot be sent by SMS to that country. Use another sign-in method.")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
