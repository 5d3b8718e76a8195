"""Password-login brute-force defence (OWASP Authentication Cheat Sheet, "Account Lockout").

Every attempt counts against ``login.ip`` and ``login.org``. Failures count against the
account+IP pair (``login.account_ip``) first — an attacker locks only himself out — and
then against the account across all IPs (``login.account``): a CAPTCHA-free back-off whose
windows all end, so nobody can lock a victim out for good. Accounts are keyed by an HMAC
of the normalized email under the keyring's pepper: the email never reaches Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from namoid.accounts.users import normalize_email
from namoid.ratelimit.limiter import Decision, Limiter

UNKNOWN_IP = "unknown"


def account_key(pepper: bytes, org_id: uuid.UUID, email: str) -> str:
    """HMAC-SHA256 of the org and the normalized email (a malformed email is used as typed)."""
    try:
        normalized = normalize_email(email)
    except ValueError:
        normalized = email.strip().lower()
    message = f"{org_id}\n{normalized}".encode()
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


async def admit(limiter: Limiter, org: str, ip: str | None, account: str) -> Decision | None:
    """Count the attempt; the refusing decision if the IP, the org or a lockout says no."""
    address = ip or UNKNOWN_IP
    for decision in (
        await limiter.hit("login.ip", address, org=org),
        await limiter.hit("login.org", org, org=org),
        await limiter.test("login.account_ip", account, address, org=org),
        await limiter.test("login.account", account, org=org),
    ):
        if not decision.allowed:
            return decision
    return None


async def failed(limiter: Limiter, org: str, ip: str | None, account: str) -> list[str]:
    """Count a failure; the lockout policies that this failure started (``admit`` let it in,
    so a window that is full now was open before it)."""
    address = ip or UNKNOWN_IP
    keys = {"login.account_ip": (account, address), "login.account": (account,)}
    started = []
    for policy, key in keys.items():
        await limiter.hit(policy, *key, org=org)
        if not (await limiter.test(policy, *key, org=org)).allowed:
            started.append(policy)
    return started
