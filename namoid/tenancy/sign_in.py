"""An organization's sign-in policy (issue 11): login methods, self-service sign-up, MFA, SMS countries,
the length of its one-time codes (6-8 digits) and the From address of its email.

``namoid org set-sign-in`` changes it; each change is audited (``org.sign_in_changed``).
Defaults are the safe ones: password only, registration closed, MFA off, SMS to India (+91).
SMS goes only to the listed calling codes, so an SMS-pumping attack cannot spend abroad.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from namoid import audit
from namoid.accounts.users import normalize_email
from namoid.storage.db import Database
from namoid.storage.models import Organization
from namoid.storage.repos import organizations as org_rows
from namoid.tenancy.organizations import require

Method = Literal["password", "email_otp", "sms_otp"]
METHODS: tuple[Method, ...] = ("password", "email_otp", "sms_otp")
REGISTRATION = ("closed", "open")
MFA = ("off", "optional", "required")
_CALLING_CODE = re.compile(r"^\+[1-9][0-9]{0,2}$")
_PLAIN_LOCAL = re.compile(r"^[a-z0-9._+-]{1,64}@")
#: Digits of a one-time code, fewest and most (issue 11 item 2).
CODE_LENGTHS = (6, 8)


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    methods: tuple[str, ...] | None = None
    registration: str | None = None
    mfa: str | None = None
    sms_countries: tuple[str, ...] | None = None
    code_length: int | None = None
    #: The org's own From address for email; "default" goes back to ``NAMOID_EMAIL_FROM``.
    email_from: str | None = None


def _check_methods(methods: Sequence[str]) -> list[str]:
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise ValueError(f"--method must be one or more of {', '.join(METHODS)}")
    return [method for method in METHODS if method in methods]


def _check_countries(codes: Sequence[str]) -> list[str]:
    for code in codes:
        if not _CALLING_CODE.match(code):
            raise ValueError(f"invalid calling code {code!r}: use + and 1-3 digits, e.g. +91")
    if not codes:
        raise ValueError("give at least one --sms-country")
    return sorted(set(codes))


def _check_from(address: str) -> str:
    """A bare address of plain characters: no display name, comma, quote or line break, so
    nothing can be smuggled into the From header."""
    try:
        normalized = normalize_email(address)
    except ValueError:
        normalized = ""
    if not _PLAIN_LOCAL.match(normalized):
        raise ValueError(f"--email-from must be an address like no-reply@example.com, not {address[:80]!r}")
    return normalized


def changes_for(org: Organization, policy: SignInPolicy) -> dict[str, object]:
    """The column changes ``policy`` asks for, each validated (ValueError names the bad one)."""
    changes: dict[str, object] = {}
    if policy.methods is not None:
        changes["sign_in_methods"] = _check_methods(policy.methods)
    if policy.registration is not None:
        if policy.registration not in REGISTRATION:
            raise ValueError("--registration must be closed or open")
        changes["registration"] = policy.registration
    if policy.mfa is not None:
        if policy.mfa not in MFA:
            raise ValueError("--mfa must be off, optional or required")
        changes["mfa"] = policy.mfa
    if policy.sms_countries is not None:
        changes["sms_countries"] = _check_countries(policy.sms_countries)
    if policy.code_length is not None:
        if not CODE_LENGTHS[0] <= policy.code_length <= CODE_LENGTHS[1]:
            raise ValueError("--code-length must be 6, 7 or 8 digits")
        changes["challenge_digits"] = policy.code_length
    if policy.email_from is not None:
        changes["email_from"] = None if policy.email_from == "default" else _check_from(policy.email_from)
    methods = changes.get("sign_in_methods", org.sign_in_methods)
    if changes.get("mfa", org.mfa) != "off" and "password" not in methods:  # type: ignore[operator]
        raise ValueError("MFA is a code after the password: keep the password method, or set --mfa off")
    return changes


def describe(org: Organization) -> dict[str, object]:
    return {
        "slug": org.slug,
        "methods": list(org.sign_in_methods),
        "registration": org.registration,
        "mfa": org.mfa,
        "sms_countries": list(org.sms_countries),
        "code_length": org.challenge_digits,
        "email_from": org.email_from or "default",
        "test_mode": org.test_mode,
    }


async def set_policy(db: Database, slug: str, policy: SignInPolicy, actor: audit.Actor) -> Organization:
    """Change the org's sign-in policy (audited); nodes pick it up within the org cache's TTL."""
    org = await require(db, slug)
    changes = changes_for(org, policy)
    if not changes:
        raise ValueError(
            "give at least one of --method, --registration, --mfa, --sms-country, --code-length, --email-from"
        )
    async with db.tenant(org.id) as session:
        await org_rows.set_settings(session, org.id, changes)
        await audit.record(
            session,
            org.id,
            actor=actor,
            action="org.sign_in_changed",
            target_type="org",
            target_id=slug,
            detail={name: value for name, value in sorted(changes.items())},
        )
    return await require(db, slug)
