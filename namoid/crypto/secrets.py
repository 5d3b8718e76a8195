"""Random tokens, token hashes, client-secret HMACs and constant-time comparison (DESIGN.md §3)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Final

#: RFC 6749 §10.10: a guessable token must have at most 2^-128 odds; never fewer bytes.
MIN_TOKEN_BYTES: Final = 16
PEPPER_BYTES: Final = 32
_MAC_SCHEME: Final = "hmac-sha256$"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def new_token(nbytes: int = 32) -> str:
    """``nbytes`` from the OS CSPRNG as unpadded base64url (RFC 4648 §5; RFC 6749 §10.10)."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < MIN_TOKEN_BYTES:
        raise ValueError(f"a token needs at least {MIN_TOKEN_BYTES} random bytes")
    return secrets.token_urlsafe(nbytes)


def new_numeric_code(digits: int) -> str:
    """A one-time code of ``digits`` decimal digits, uniform from the OS CSPRNG (leading zeros kept)."""
    if isinstance(digits, bool) or not isinstance(digits, int) or not 6 <= digits <= 8:
        raise ValueError("a one-time code has 6 to 8 digits")
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def sha256_hex(value: str) -> str:
    """SHA-256 of the UTF-8 ``value`` as lowercase hex: how opaque tokens are stored (DESIGN.md §3)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _check_pepper(pepper: bytes) -> None:
    if not isinstance(pepper, bytes) or len(pepper) != PEPPER_BYTES:
        raise ValueError(f"the pepper must be {PEPPER_BYTES} bytes")


def _client_secret_mac(secret: str, pepper: bytes) -> str:
    return hmac.new(pepper, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_client_secret(secret: str, pepper: bytes) -> str:
    """``hmac-sha256$<hex>``: HMAC-SHA-256 (RFC 2104) keyed with the server pepper.

    Client secrets are 256-bit random values, so no slow hash is needed (DESIGN.md §3);
    the pepper keeps a leaked table from being checked offline.
    """
    _check_pepper(pepper)
    if not isinstance(secret, str) or not secret:
        raise ValueError("a client secret must be a non-empty string")
    return _MAC_SCHEME + _client_secret_mac(secret, pepper)


def verify_client_secret(secret: str, stored: str, pepper: bytes) -> bool:
    """Constant-time check of ``secret`` against ``hash_client_secret`` output; False if malformed."""
    _check_pepper(pepper)
    if not isinstance(secret, str) or not isinstance(stored, str):
        return False
    scheme, _, digest = stored.partition("$")
    if scheme + "$" != _MAC_SCHEME or not _HEX_DIGEST.fullmatch(digest):
        return False
    try:
        expected = _client_secret_mac(secret, pepper)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, digest)


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    """Compare two secrets without leaking where they differ (``hmac.compare_digest``)."""
    return hmac.compare_digest(_as_bytes(a), _as_bytes(b))
