"""The account console's session cookie: a MAC binding the console sign-in to one browser session.

A console cookie is ``v1.<issued_at>.<mac>``: HMAC-SHA-256 (RFC 2104) over the org, the
browser session's ``sid`` and the issue time, under a key derived from the keyring's pepper
for this purpose only (HKDF, RFC 5869). It holds no state of its own: it is valid only with
the live browser session it names, so when that session ends (logout, sign-out everywhere,
a disabled or deleted user, a new sign-in in the browser) the console session is dead too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"namoid/console-cookie/v1"
_FORMAT = re.compile(r"v1\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")
MAX_COOKIE_CHARS = 80


@cache
def _key(pepper: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(pepper)


def _mac(pepper: bytes, org_id: uuid.UUID, sid: str, issued_at: int) -> str:
    message = f"{org_id}\n{sid}\n{issued_at}".encode()
    digest = hmac.new(_key(pepper), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue(pepper: bytes, org_id: uuid.UUID, sid: str, now: int) -> str:
    """A console cookie for browser session ``sid`` of ``org_id``, issued at ``now`` (Unix time)."""
    return f"v1.{now}.{_mac(pepper, org_id, sid, now)}"


def verify(pepper: bytes, cookie: str | None, org_id: uuid.UUID, sid: str, now: int, max_age: int) -> bool:
    """Whether ``cookie`` was issued for session ``sid`` of ``org_id`` less than ``max_age`` s ago."""
    if not cookie or len(cookie) > MAX_COOKIE_CHARS:
        return False
    match = _FORMAT.fullmatch(cookie)
    if match is None:
        return False
    issued_at = int(match[1])
    if not now - max_age < issued_at <= now:
        return False
    return hmac.compare_digest(_mac(pepper, org_id, sid, issued_at), match[2])
