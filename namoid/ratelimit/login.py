"""Password-login brute-force defence (OWASP Authentication Cheat Sheet, "Account Lockout",
"device cookies").

Thousands of people can share one address (carrier-grade NAT, a campus, an office), so what
is counted per IP is *failures* (``login.ip_failures``); every attempt counts only against a
high flood ceiling (``login.ip``), and a successful sign-in counts against nothing else.
Failures also count against the org (``login.org``, a stuffing wave's brake), the account+IP
pair (``login.account_ip``: an attacker locks only himself out) and the account across all
IPs (``login.account``: a back-off whose windows all end).

A browser that signed in to the account before carries a device cookie for it
(namoid.crypto.device_cookies). It is exempt from all of those (an attacker cannot lock the
owner's own browser out, nor can a crowd behind the owner's address); its failures count
against that device alone (``login.device``), so a stolen cookie guesses no faster.

Accounts are keyed by an HMAC of the normalized email under the keyring's pepper: the email
never reaches Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

from namoid.accounts.users import normalize_email
from namoid.ratelimit.limiter import Decision, Limiter

#: The policies whose lockout is about one account (``login.bruteforce_suspected``).
LOCKOUTS = ("login.account_ip", "login.account", "login.device")


def account_key(pepper: bytes, org_id: uuid.UUID, email: str) -> str:
    """HMAC-SHA256 of the org and the normalized email (a malformed email is used as typed)."""
    try:
        normalized = normalize_email(email)
    except ValueError:
        normalized = email.strip().lower()
    message = f"{org_id}\n{normalized}".encode()
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who tries to sign in to which account: the org slug, the IP key, the account key, and
    the device (a verified device cookie's nonce) if the browser is known to this account."""

    org: str
    ip: str
    account: str
    device: str | None = None

    def failure_policies(self) -> dict[str, tuple[str, ...]]:
        """The policies a failure of this attempt counts against, each with its key."""
        if self.device is not None:
            return {"login.device": (self.device,)}
        return {
            "login.ip_failures": (self.ip,),
            "login.org": (self.org,),
            "login.account_ip": (self.account, self.ip),
            "login.account": (self.account,),
        }


async def flood_ceiling(limiter: Limiter, org: str, ip: str) -> Decision | None:
    """Count one login POST from ``ip``; the refusal once the IP's ceiling is reached."""
    decision = await limiter.hit("login.ip", ip, org=org)
    return None if decision.allowed else decision


async def admit(limiter: Limiter, attempt: Attempt) -> Decision | None:
    """The refusal if a failure window of ``attempt`` is already full (counts nothing)."""
    for policy, key in attempt.failure_policies().items():
        decision = await limiter.test(policy, *key, org=attempt.org)
        if not decision.allowed:
            return decision
    return None


async def failed(limiter: Limiter, attempt: Attempt) -> list[str]:
    """Count a failure; the lockouts (``LOCKOUTS``) that this failure started (``admit`` let it
    in, so a window that is full now was open before it)."""
    started = []
    for policy, key in attempt.failure_policies().items():
        await limiter.hit(policy, *key, org=attempt.org)
        if policy in LOCKOUTS and not (await limiter.test(policy, *key, org=attempt.org)).allowed:
            started.append(policy)
    return started
