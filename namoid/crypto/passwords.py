"""Password hashing with Argon2id (RFC 9106) via argon2-cffi (DESIGN.md §3).

Parameters: the OWASP Password Storage Cheat Sheet's Argon2id baseline, m=19 MiB,
t=2, p=1, with RFC 9106 §3.1's 128-bit salt and a 256-bit tag. RFC 9106 §4's second
recommended option (m=64 MiB, t=3, p=4) took ~130 ms per hash on the 2-core build
box, too slow for a login path; this one measured ~21 ms per hash and per verify
(median of 15, Python 3.11, argon2-cffi 25.1). Hashing blocks: call these from a
worker thread (``asyncio.to_thread``) in async code.
"""

from __future__ import annotations

import secrets
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import VerificationError

#: DoS guard: Argon2 cost is flat, but parsing and transport are not; no real password is longer.
MAX_PASSWORD_CHARS: Final = 1024
TIME_COST: Final = 2
MEMORY_COST_KIB: Final = 19 * 1024
PARALLELISM: Final = 1
HASH_LEN: Final = 32
SALT_LEN: Final = 16

_HASHER: Final = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_LEN,
    salt_len=SALT_LEN,
    type=Type.ID,
)
#: Verified against when the user is unknown, so that path costs one Argon2id verify too.
_DUMMY_HASH: Final = _HASHER.hash(secrets.token_urlsafe(32))


def _check_length(password: str) -> None:
    if not isinstance(password, str):
        raise ValueError("a password must be a string")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"a password must be at most {MAX_PASSWORD_CHARS} characters")


def hash_password(password: str) -> str:
    """An Argon2id PHC string (RFC 9106) for a new password; ValueError if empty or too long."""
    _check_length(password)
    if not password:
        raise ValueError("a password must not be empty")
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True only if ``password`` matches ``stored_hash``.

    ``None`` (unknown user) verifies against a dummy hash with the same parameters, so
    it takes as long as a real check and returns False. Wrong or malformed hashes give
    False, never an exception; an over-long password is a ValueError (before any work).
    """
    _check_length(password)
    candidate = _DUMMY_HASH if stored_hash is None else stored_hash
    try:
        matched = _HASHER.verify(candidate, password)
    except (VerificationError, ValueError):  # mismatch, malformed hash, unencodable input
        return False
    return matched and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """True if ``stored_hash`` was made with other parameters (or is not a valid hash)."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except ValueError:  # InvalidHashError and friends
        return True
