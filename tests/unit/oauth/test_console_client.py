"""The console's ID token validation (OIDC Core §3.1.3.7): every check refuses on its own."""

from __future__ import annotations

from typing import Any

import pytest

from namoid.jose import jwt
from namoid.jose.keys import generate_signing_key, load_private_key
from namoid.oauth.console_client import CONSOLE_CLIENT_ID, ConsoleSignInFailed, verify_id_token

ISSUER = "https://id.example/o/acme"
NOW = 1_800_000_000
NEW = generate_signing_key("RS256")
KEY = load_private_key(NEW.kid, "RS256", NEW.private_pem)
OTHER = generate_signing_key("RS256")


def _token(key: Any = KEY, **changes: Any) -> str:
    claims = {
        "iss": ISSUER, "sub": "user-1", "aud": CONSOLE_CLIENT_ID, "azp": CONSOLE_CLIENT_ID,
        "iat": NOW, "exp": NOW + 600, "nonce": "n-1", "sid": "sid-1", "auth_time": NOW - 10,
    } | changes  # fmt: skip
    return jwt.sign({k: v for k, v in claims.items() if v is not None}, key)


def _verify(token: str, max_age: int | None = None) -> None:
    verify_id_token(token, [NEW.public_jwk], issuer=ISSUER, nonce="n-1", max_age=max_age, now=NOW)


def test_a_good_token_gives_the_identity() -> None:
    identity = verify_id_token(_token(), [NEW.public_jwk], issuer=ISSUER, nonce="n-1", max_age=300, now=NOW)
    assert (identity.subject, identity.sid, identity.auth_time) == ("user-1", "sid-1", NOW - 10)


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://id.example/o/other"},
        {"aud": "someone-else"},
        {"aud": [CONSOLE_CLIENT_ID, "someone-else"]},
        {"azp": "someone-else"},
        {"exp": NOW - 1},
        {"nonce": "n-2"},
        {"nonce": None},
        {"sid": None},
        {"auth_time": None},
        {"auth_time": "yesterday"},
    ],
)
def test_each_claim_is_checked(changes: dict[str, Any]) -> None:
    with pytest.raises(ConsoleSignInFailed):
        _verify(_token(**changes))


def test_a_token_signed_by_another_key_or_garbage_is_refused() -> None:
    other = load_private_key(OTHER.kid, "RS256", OTHER.private_pem)
    for token in (_token(other), "", "not.a.jwt"):
        with pytest.raises(ConsoleSignInFailed):
            _verify(token)


def test_a_step_up_needs_a_recent_sign_in() -> None:
    _verify(_token(auth_time=NOW - 300), max_age=300)
    with pytest.raises(ConsoleSignInFailed):
        _verify(_token(auth_time=NOW - 600), max_age=300)
