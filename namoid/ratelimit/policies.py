"""Named rate-limit policies (DESIGN.md §5b): one entry per place an attacker can guess or spend.

A policy is one or more ``limits`` rate strings ("5/minute;20/hour"): a request is allowed only
while every one of them has room, so stacked windows give a growing delay that always ends.
``NAMOID_RATE_LIMITS`` overrides a policy everywhere, ``NAMOID_ORG_RATE_LIMITS`` per org slug.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from limits import RateLimitItem, parse_many

#: Production defaults, sized for an identity provider (OWASP Authentication Cheat Sheet).
DEFAULTS: dict[str, str] = {
    # Every login POST from one IP, and every login POST to one org (a stuffing-wave budget).
    "login.ip": "20/minute;200/hour",
    "login.org": "600/minute",
    # Failed logins: per account+IP pair first (an attacker locks only himself out) …
    "login.account_ip": "5/minute;10/hour;20/day",
    # … then per account across IPs: a CAPTCHA-free back-off that ends within an hour.
    "login.account": "10/minute;50/hour",
    # The token endpoint, checked before any client-authentication work.
    "token.client": "600/minute",
    "token.ip": "1200/minute",
    "introspect.client": "1200/minute",
    # Revocation authenticates the client like /token: limited the same way, before the secret check.
    "revoke.ip": "1200/minute",
    "revoke.client": "600/minute",
    # UserInfo: what is guessed is the bearer token itself, so the caller's IP is the key.
    "userinfo.ip": "1200/minute",
    # One-time codes: per destination, per IP, and the org's hourly SMS/email spend.
    "otp.send.destination": "3/10 minutes;10/day",
    "otp.send.ip": "10/hour",
    "otp.send.org_hourly": "1000/hour",
    # At most one otp.flood_suspected event per org and hour while its budget stays spent.
    "otp.flood_alert": "1/hour",
    "otp.verify.challenge": "5/hour",
    "password_reset.ip": "10/hour",
    "password_reset.destination": "3/hour",
    "registration.ip": "10/hour",
    "registration.destination": "3/hour",
}


def validate(overrides: Mapping[str, str]) -> None:
    """ValueError naming an unknown policy or a malformed rate string."""
    for name, rate in overrides.items():
        if name not in DEFAULTS:
            raise ValueError(f"unknown rate-limit policy {name!r}")
        _parse(rate)


@cache
def _parse(rate: str) -> tuple[RateLimitItem, ...]:
    items = tuple(parse_many(rate))
    if not items:
        raise ValueError(f"malformed rate {rate!r}")
    return items


def rates(
    name: str,
    org: str | None,
    overrides: Mapping[str, str],
    org_overrides: Mapping[str, Mapping[str, str]],
) -> tuple[RateLimitItem, ...]:
    """The windows of policy ``name`` for ``org`` (slug): org override, global override, default."""
    rate = org_overrides.get(org or "", {}).get(name) or overrides.get(name) or DEFAULTS[name]
    return _parse(rate)
