"""Device cookies (OWASP Authentication Cheat Sheet, "device cookies"): a browser's proof that
it has signed in to an account before.

A device cookie is ``v1.<issued_at>.<nonce>.<mac>``: the MAC is HMAC-SHA-256 (RFC 2104) over
the account key, the issue time and a random nonce, under a key derived from the keyring's
pepper for this purpose only (HKDF, RFC 5869). It names no account: it verifies only against
the account it was issued for, so it neither reveals nor serves any other. Its ``nonce`` is
the device's identity, the key its own failures are counted by.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from namoid.crypto.secrets import new_token

_INFO = b"namoid/device-cookie/v1"
_FORMAT = re.compile(r"v1\.([0-9]{1,12})\.([A-Za-z0-9_-]{22,64})\.([A-Za-z0-9_-]{43})")
MAX_COOKIE_CHARS = 160


@dataclass(frozen=True, slots=True)
class Device:
    """A verified device cookie: its identity (the nonce) and when it was issued (Unix time)."""

    nonce: str
    issued_at: int


@cache
def _key(pepper: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(pepper)


def _mac(pepper: bytes, account: str, issued_at: int, nonce: str) -> str:
    message = f"{account}\n{issued_at}\n{nonce}".encode()
    digest = hmac.new(_key(pepper), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue(pepper: bytes, account: str, now: int) -> str:
    """A new device cookie for ``account`` (an account key), issued at ``now``."""
    nonce = new_token(16)
    return f"v1.{now}.{nonce}.{_mac(pepper, account, now, nonce)}"


def verify(pepper: bytes, cookie: str | None, account: str, now: int, max_age: int) -> Device | None:
    """The device, if ``cookie`` was issued for ``account`` less than ``max_age`` seconds ago."""
    if not cookie or len(cookie) > MAX_COOKIE_CHARS:
        return None
    match = _FORMAT.fullmatch(cookie)
    if match is None:
        return None
    issued_at, nonce, mac = int(match[1]), match[2], match[3]
    if not now - max_age < issued_at <= now:
        return None
    if not hmac.compare_digest(_mac(pepper, account, issued_at, nonce), mac):
        return None
    return Device(nonce, issued_at)
