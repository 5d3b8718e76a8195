"""``namoid.jose.jwt.verify``: algorithm allow-list, key selection and claim checks (RFC 8725)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from namoid.jose.jwt import JWTError, sign, unverified_claims, verify
from namoid.jose.keys import Algorithm, NewSigningKey, generate_signing_key, load_private_key

NOW = 1_900_000_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**extra: Any) -> dict[str, Any]:
    return {
        "iss": "https://id.example/o/a",
        "aud": "client-1",
        "sub": "u1",
        "iat": NOW,
        "exp": NOW + 60,
    } | extra


@pytest.fixture(scope="module", params=["RS256", "PS256", "ES256"])
def key(request: pytest.FixtureRequest) -> NewSigningKey:
    alg: Algorithm = request.param
    return generate_signing_key(alg)


def _token(key: NewSigningKey, claims: dict[str, Any] | None = None, typ: str = "JWT") -> str:
    return sign(claims or _claims(), load_private_key(key.kid, key.alg, key.private_pem), typ=typ)


def _verify(token: str, key: NewSigningKey, **options: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"issuer": "https://id.example/o/a", "audience": "client-1", "now": NOW}
    return verify(token, [key.public_jwk], **(defaults | options))


def test_round_trip(key: NewSigningKey) -> None:
    token = _token(key, typ="at+jwt")
    assert _verify(token, key, typ="application/at+jwt")["sub"] == "u1"


def test_alg_none_is_refused(key: NewSigningKey) -> None:
    header = _b64(json.dumps({"alg": "none", "kid": key.kid}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    with pytest.raises(JWTError, match="not accepted"):
        _verify(f"{header}.{payload}.", key)


def test_hs256_signed_with_the_public_key_is_refused(key: NewSigningKey) -> None:
    """The classic key-confusion attack: HMAC keyed with the published public key."""
    header = _b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    secret = json.dumps(key.public_jwk).encode()
    signature = _b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    with pytest.raises(JWTError, match="not accepted"):
        _verify(f"{header}.{payload}.{signature}", key)


def test_algorithm_outside_the_callers_allow_list(key: NewSigningKey) -> None:
    with pytest.raises(JWTError, match="not accepted"):
        _verify(_token(key), key, algorithms=["EdDSA"])


def test_tampered_payload_and_signature(key: NewSigningKey) -> None:
    header, payload, signature = _token(key).split(".")
    forged = _b64(json.dumps(_claims(sub="admin")).encode())
    with pytest.raises(JWTError, match="bad signature"):
        _verify(f"{header}.{forged}.{signature}", key)
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(JWTError):
        _verify(f"{header}.{payload}.{flipped}", key)


def test_signature_by_another_key_with_the_same_kid(key: NewSigningKey) -> None:
    other = generate_signing_key(key.alg)
    forged = sign(_claims(), load_private_key(key.kid, other.alg, other.private_pem))
    with pytest.raises(JWTError, match="bad signature"):
        _verify(forged, key)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (_claims(exp=NOW - 1), "expired"),
        (_claims(exp=None), "expired"),
        (_claims(exp=float("nan")), "expired"),
        (_claims(exp=float("inf")), "expired"),
        (_claims(exp=True), "expired"),
        (_claims(nbf=float("nan")), "not yet valid"),
        (_claims(nbf=NOW + 60), "not yet valid"),
        (_claims(iat=NOW + 60), "future"),
        (_claims(iss="https://id.example/o/b"), "issuer"),
        (_claims(aud="client-2"), "audience"),
        (_claims(aud=["client-2", "client-3"]), "audience"),
    ],
)
def test_claims_are_checked(key: NewSigningKey, claims: dict[str, Any], message: str) -> None:
    with pytest.raises(JWTError, match=message):
        _verify(_token(key, {k: v for k, v in claims.items() if v is not None}), key)


def test_leeway_and_audience_lists(key: NewSigningKey) -> None:
    token = _token(key, _claims(exp=NOW - 5, aud=["client-9", "client-1"]))
    assert _verify(token, key, leeway=10)["sub"] == "u1"


@pytest.mark.parametrize(
    "aud", [["client-9", "client-1"], ["client-1", "client-1"], [], [{"client-1": 1}], {"client-1": 1}, None]
)
def test_sole_audience_refuses_anything_but_one_value(key: NewSigningKey, aud: object) -> None:
    token = _token(key, {k: v for k, v in _claims(aud=aud).items() if v is not None})
    with pytest.raises(JWTError, match="audience"):
        _verify(token, key, sole_audience=True)


def test_sole_audience_is_a_string_or_a_one_element_array(key: NewSigningKey) -> None:
    for aud in ("client-1", ["client-1"]):
        assert _verify(_token(key, _claims(aud=aud)), key, sole_audience=True)["sub"] == "u1"


def test_audience_list_with_a_non_string_member(key: NewSigningKey) -> None:
    with pytest.raises(JWTError, match="audience"):
        _verify(_token(key, _claims(aud=[{"client-1": 1}, ["client-1"]])), key)


def test_wrong_typ_is_refused(key: NewSigningKey) -> None:
    with pytest.raises(JWTError, match="type"):
        _verify(_token(key, typ="JWT"), key, typ="at+jwt")


def test_key_of_another_family_is_not_used() -> None:
    rsa, ec = generate_signing_key("RS256"), generate_signing_key("ES256")
    token = _token(rsa)
    with pytest.raises(JWTError, match="no matching key"):
        verify(token, [ec.public_jwk | {"kid": rsa.kid}], issuer=None, audience=None, now=NOW)


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c.d", "x" * 20000, "....", "eyJ.eyJ.sig", "é.é.é"])
def test_garbage_is_a_jwt_error(key: NewSigningKey, garbage: str) -> None:
    with pytest.raises(JWTError):
        _verify(garbage, key)
    with pytest.raises(JWTError):
        unverified_claims(garbage)


def test_real_clock_default() -> None:
    key = generate_signing_key("ES256")
    now = int(time.time())
    token = _token(key, _claims(iat=now, exp=now + 30))
    assert (
        verify(token, [key.public_jwk], issuer="https://id.example/o/a", audience="client-1")["sub"] == "u1"
    )
