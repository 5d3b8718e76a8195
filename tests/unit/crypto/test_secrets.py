"""Random tokens, token hashes, client-secret HMACs, constant-time comparison (DESIGN.md §3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from namoid.crypto.secrets import (
    constant_time_equals,
    hash_client_secret,
    new_token,
    sha256_hex,
    verify_client_secret,
)

PEPPER = bytes(range(32))
OTHER_PEPPER = bytes(range(1, 33))


def test_new_token_is_unpadded_base64url_of_nbytes() -> None:
    token = new_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    assert len(base64.urlsafe_b64decode(new_token(18))) == 18


def test_new_tokens_differ() -> None:
    assert len({new_token() for _ in range(1000)}) == 1000


@pytest.mark.parametrize("nbytes", [0, 15, -1, True])
def test_new_token_refuses_weak_sizes(nbytes: int) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        new_token(nbytes)


def test_new_token_uses_the_secrets_module(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake(nbytes: int) -> str:
        calls.append(nbytes)
        return "x"

    monkeypatch.setattr(secrets, "token_urlsafe", fake)
    assert new_token(20) == "x"
    assert calls == [20]


def test_sha256_hex() -> None:
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_hex("ä") == hashlib.sha256("ä".encode()).hexdigest()


def test_hash_client_secret_format() -> None:
    stored = hash_client_secret("s3cret", PEPPER)
    expected = hmac.new(PEPPER, b"s3cret", hashlib.sha256).hexdigest()
    assert stored == f"hmac-sha256${expected}"


def test_hash_is_deterministic_and_peppered() -> None:
    assert hash_client_secret("a", PEPPER) == hash_client_secret("a", PEPPER)
    assert hash_client_secret("a", PEPPER) != hash_client_secret("a", OTHER_PEPPER)
    assert hash_client_secret("a", PEPPER) != hash_client_secret("b", PEPPER)


def test_verify_client_secret() -> None:
    secret = new_token()
    stored = hash_client_secret(secret, PEPPER)
    assert verify_client_secret(secret, stored, PEPPER)
    assert not verify_client_secret(secret + "x", stored, PEPPER)
    assert not verify_client_secret(secret, stored, OTHER_PEPPER)
    assert not verify_client_secret("", stored, PEPPER)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "hmac-sha256$",
        "hmac-sha256$zz",
        "hmac-sha256$" + "A" * 64,
        "hmac-sha256$" + "a" * 63,
        "hmac-sha256$" + "a" * 65,
        "hmac-sha1$" + "a" * 64,
        "HMAC-SHA256$" + "a" * 64,
        "a" * 64,
        "$argon2id$v=19$m=19456,t=2,p=1$abc$def",
        "hmac-sha256$" + "a" * 64 + "\n",
    ],
)
def test_verify_false_on_malformed_stored_value(stored: str) -> None:
    assert verify_client_secret("whatever", stored, PEPPER) is False


def test_verify_false_on_unencodable_secret() -> None:
    stored = hash_client_secret("abc", PEPPER)
    assert verify_client_secret("\udc80", stored, PEPPER) is False


def test_verify_uses_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    stored = hash_client_secret("abc", PEPPER)
    assert verify_client_secret("abc", stored, PEPPER)
    assert len(calls) == 1


@pytest.mark.parametrize("pepper", [b"", b"short", bytes(33)])
def test_bad_pepper_is_a_value_error(pepper: bytes) -> None:
    with pytest.raises(ValueError, match="pepper"):
        hash_client_secret("abc", pepper)
    with pytest.raises(ValueError, match="pepper"):
        verify_client_secret("abc", "hmac-sha256$" + "a" * 64, pepper)


def test_hash_refuses_empty_secret() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        hash_client_secret("", PEPPER)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("abc", "abc", True),
        ("abc", "abd", False),
        ("abc", "abcd", False),
        (b"abc", "abc", True),
        ("é", "é".encode(), True),
        ("é", "e", False),
        (b"", "", True),
    ],
)
def test_constant_time_equals(a: str | bytes, b: str | bytes, equal: bool) -> None:
    assert constant_time_equals(a, b) is equal


@given(st.text(min_size=1), st.text(min_size=1))
def test_verify_property(secret: str, other: str) -> None:
    stored = hash_client_secret(secret, PEPPER)
    assert verify_client_secret(secret, stored, PEPPER)
    assert verify_client_secret(other, stored, PEPPER) is (other == secret)
    assert constant_time_equals(secret, other) is (secret == other)
