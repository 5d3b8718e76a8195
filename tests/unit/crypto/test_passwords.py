"""Argon2id password hashing (RFC 9106; DESIGN.md §3)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from argon2 import PasswordHasher

from namoid.crypto import passwords
from namoid.crypto.passwords import MAX_PASSWORD_CHARS, hash_password, needs_rehash, verify_password

PASSWORD = "correct horse battery staple"
HASH = hash_password(PASSWORD)


def test_hash_is_argon2id_with_our_parameters() -> None:
    assert HASH.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert not needs_rehash(HASH)


def test_hashes_are_salted() -> None:
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_verify() -> None:
    assert verify_password(HASH, PASSWORD) is True
    assert verify_password(HASH, PASSWORD + " ") is False
    assert verify_password(HASH, "") is False


def test_unicode_password() -> None:
    stored = hash_password("पासवर्ड🔑")
    assert verify_password(stored, "पासवर्ड🔑")
    assert not verify_password(stored, "पासवर्ड")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$bad$bad",
        "$2b$12$abcdefghijklmnopqrstuv",
        "é",
    ],
)
def test_verify_malformed_hash_is_false(stored: str) -> None:
    assert verify_password(stored, PASSWORD) is False


def test_verify_unencodable_password_is_false() -> None:
    assert verify_password(HASH, "\udc80") is False
    assert verify_password(None, "\udc80") is False


def test_unknown_user_is_false() -> None:
    assert verify_password(None, PASSWORD) is False
    assert verify_password(None, "") is False


def test_unknown_user_runs_one_argon2_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = PasswordHasher.verify

    def spy(self: PasswordHasher, stored: str | bytes, password: str | bytes) -> bool:
        calls.append(str(stored))
        return real(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    assert verify_password(None, PASSWORD) is False
    assert calls == [passwords._DUMMY_HASH]
    assert not needs_rehash(calls[0])  # same parameters as real hashes, so the same cost


def test_unknown_user_takes_comparable_time() -> None:
    def best_of(stored: str | None) -> float:
        timings = []
        for _ in range(5):
            start = time.perf_counter()
            verify_password(stored, "wrong password")
            timings.append(time.perf_counter() - start)
        return min(timings)

    known, unknown = best_of(HASH), best_of(None)
    assert unknown > known / 3
    assert unknown < known * 3


@pytest.mark.parametrize(
    "call",
    [hash_password, lambda p: verify_password(HASH, p), lambda p: verify_password(None, p)],
    ids=["hash", "verify", "verify-unknown-user"],
)
def test_overlong_password_is_refused_before_hashing(
    monkeypatch: pytest.MonkeyPatch, call: Callable[[str], object]
) -> None:
    def boom(*_: object) -> None:
        raise AssertionError("argon2 must not run")

    monkeypatch.setattr(PasswordHasher, "hash", boom)
    monkeypatch.setattr(PasswordHasher, "verify", boom)
    with pytest.raises(ValueError, match="at most 1024"):
        call("x" * (MAX_PASSWORD_CHARS + 1))


def test_longest_allowed_password_works() -> None:
    longest = "p" * MAX_PASSWORD_CHARS
    assert verify_password(hash_password(longest), longest)


def test_empty_password_cannot_be_set() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def test_needs_rehash() -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert needs_rehash(weaker)
    assert verify_password(weaker, PASSWORD)  # old hashes still verify until rehashed
    assert needs_rehash("garbage")
    assert not needs_rehash(HASH)


def test_hash_time_is_reasonable() -> None:
    start = time.perf_counter()
    hash_password(PASSWORD)
    assert time.perf_counter() - start < 0.5  # ~21 ms measured; generous for loaded CI
