"""An organization's sign-in policy (issue 11): login methods, self-service sign-up, MFA, SMS countries.

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
from namoid.storage.db import Database
from namoid.storage.models import Organization
from namoid.storage.repos import organizations as org_rows
from namoid.tenancy.organizations import require

Method = Literal["password", "email_otp", "sms_otp"]
METHODS: tuple[Method, ...] = ("password", "email_otp", "sms_otp")
REGISTRATION = ("closed", "open")
MFA = ("off", "optional", "required")
_CALLING_CODE = re.compile(r"^\+[1-9][0-9]{0,2}$")


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    methods: tuple[str, ...] | None = None
    registration: str | None = None
    mfa: str | None = None
    sms_countries: tuple[str, ...] | None = None


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
        "test_mode": org.test_mode,
    }


async def set_policy(db: Database, slug: str, policy: SignInPolicy, actor: audit.Actor) -> Organization:
    """Change the org's sign-in policy (audited); nodes pick it up within the org cache's TTL."""
    org = await require(db, slug)
    changes = changes_for(org, policy)
    if not changes:
        raise ValueError("give at least one of --method, --registration, --mfa, --sms-country")
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
