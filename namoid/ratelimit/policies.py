"""Named rate-limit policies (DESIGN.md §5b): one entry per place an attacker can guess or spend.

A policy is one or more ``limits`` rate strings ("5/minute;20/hour"): a request is allowed only
while every one of them has room, so stacked windows give a growing delay that always ends.
``NAMOID_RATE_LIMITS`` overrides a policy everywhere, ``NAMOID_ORG_RATE_LIMITS`` per org slug, and
an org's stored overrides (``namoid org set-limit``, the admin API) come first.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from limits import RateLimitItem, parse_many

#: Production defaults, sized for an identity provider (OWASP Authentication Cheat Sheet).
#: What one address may *fail* is small; what it may *do* is a high ceiling only, because
#: thousands of people share one address behind carrier-grade NAT, a campus or an office.
DEFAULTS: dict[str, str] = {
    # Every login POST from one IP: flood protection only (a NAT's whole crowd shares it).
    "login.ip": "300/minute",
    # Failed logins (wrong password, unknown account) from one IP: what guessing costs.
    "login.ip_failures": "30/minute;300/hour",
    # Failed logins across the org: a stuffing wave's brake; browsers with a device cookie pass.
    "login.org": "600/minute",
    # Failed logins: per account+IP pair first (an attacker locks only himself out) …
    "login.account_ip": "5/minute;10/hour;20/day",
    # … then per account across IPs: a back-off that ends within an hour, for unknown browsers.
    "login.account": "10/minute;50/hour",
    # Failed logins from a browser with a device cookie for the account (a stolen cookie's budget).
    "login.device": "5/minute;20/hour",
    # Interaction requests refused by a cheap check (CSRF, session, expired request), per IP.
    "interaction.refused_ip": "30/minute;300/hour",
    # The sign-in and consent pages (each may start a browser session), per IP.
    "interaction.ip": "300/minute",
    # /authorize (each may store an authorization request), per IP.
    "authorize.ip": "300/minute",
    # /logout (each verifies an id_token_hint), per IP.
    "logout.ip": "120/minute",
    # The client-authenticated endpoints: a per-IP ceiling on all requests (flood protection) …
    "token.ip": "1200/minute",
    "revoke.ip": "1200/minute",
    "introspect.ip": "1200/minute",
    # … a client's own budget, spent only by requests that authenticated as that client …
    "token.client": "600/minute",
    "revoke.client": "600/minute",
    "introspect.client": "1200/minute",
    # … failed client authentications per (client, IP), refused before the next check …
    "client_auth.failures_client_ip": "5/minute;20/hour",
    # … per IP across clients (client_id enumeration), refused the same way …
    "client_auth.failures_ip": "30/minute;300/hour",
    # … and per client across IPs: an alarm (client.bruteforce_suspected), never a refusal.
    "client_auth.failures": "100/minute",
    # At most one client.bruteforce_suspected event per client and hour while that alarm rings.
    "client_auth.failures_alert": "1/hour",
    # UserInfo: what is guessed is the bearer token itself, so the caller's IP is the key.
    "userinfo.ip": "1200/minute",
    # The consent API (withdraw, receipt): what is guessed is the bearer token, so per IP.
    "consents.ip": "120/minute",
    # The KYC API (namoid.web.kyc_api): per IP before the token is checked, then per user (each
    # upload is a signature verification; a person verifies once in a while, not in bulk).
    "kyc.api.ip": "60/minute",
    "kyc.api.user": "10/hour;30/day",
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
    # Grievances one user may raise (namoid.web.account.grievances): a person's, not a flood's, pace.
    "grievance.raise": "5/hour;20/day",
    # The admin API (issue 16): every request from one IP (before its token is checked) …
    "admin.ip": "1200/minute",
    # … and each authenticated caller's own budget (per org and client or user).
    "admin.caller": "600/minute",
    # At most one audit entry per refusing (policy, key) and minute: a flood is one line, not a million.
    "ratelimit.refusal_audit": "1/minute",
}


MAX_RATE = 100


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
    stored: Mapping[str, str] | None = None,
) -> tuple[RateLimitItem, ...]:
    """The windows of policy ``name`` for ``org`` (slug): the org's stored override (its admins'
    or the operator's, ``ratelimit.overrides``), the configured org override, the global
    override, the default."""
    rate = (
        (stored or {}).get(name)
        or org_overrides.get(org or "", {}).get(name)
        or overrides.get(name)
        or DEFAULTS[name]
    )
    return _parse(rate)


def windows(rate: str) -> dict[int, int]:
    """Window length in seconds → requests allowed in it; ValueError if ``rate`` is malformed
    or lets no request through."""
    if len(rate) > MAX_RATE:
        raise ValueError(f"a rate is at most {MAX_RATE} characters")
    found = {item.get_expiry(): item.amount for item in _parse(rate)}
    if min(found.values()) < 1:
        raise ValueError(f"every window of {rate!r} must allow at least one request")
    return found


def within_default(name: str, rate: str) -> None:
    """ValueError unless ``rate`` only tightens policy ``name``: the default's windows, each with
    at most the default's number of requests (an org's own admin may not loosen a limit)."""
    default = windows(DEFAULTS[name])
    wanted = windows(rate)
    if set(wanted) != set(default) or any(wanted[w] > default[w] for w in default):
        raise ValueError(
            f"{name} may only be tightened here: keep its windows ({DEFAULTS[name]}) with at most as many "
            "requests each; ask the operator to raise it"
        )
