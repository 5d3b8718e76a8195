"""Signing keys: public halves carry no private member; kid is the RFC 7638 thumbprint."""

from __future__ import annotations

from typing import Any

import pytest

from namoid.jose.keys import (
    SIGNING_ALGORITHMS,
    Algorithm,
    KeyImportError,
    NewSigningKey,
    generate_signing_key,
    import_public_jwk,
    key_fits_algorithm,
    load_private_key,
)

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


@pytest.fixture(scope="module", params=SIGNING_ALGORITHMS)
def new_key(request: pytest.FixtureRequest) -> NewSigningKey:
    alg: Algorithm = request.param
    return generate_signing_key(alg)


def test_public_jwk_has_no_private_member(new_key: NewSigningKey) -> None:
    jwk = new_key.public_jwk
    assert not [m for m in PRIVATE_MEMBERS if m in jwk]
    assert jwk["alg"] == new_key.alg and jwk["use"] == "sig" and jwk["kid"] == new_key.kid
    expected = {"kty", "kid", "alg", "use"} | ({"crv", "x", "y"} if new_key.alg == "ES256" else {"n", "e"})
    assert set(jwk) == expected


def test_kid_is_the_rfc7638_thumbprint(new_key: NewSigningKey) -> None:
    public = import_public_jwk(new_key.public_jwk)
    assert public.thumbprint() == new_key.kid
    assert len(new_key.kid) == 43  # base64url of a SHA-256 digest


def test_key_size_and_curve(new_key: NewSigningKey) -> None:
    jwk = new_key.public_jwk
    if new_key.alg == "ES256":
        assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    else:
        assert jwk["kty"] == "RSA" and jwk["e"] == "AQAB"
        assert len(jwk["n"]) == 342  # 2048-bit modulus, base64url


def test_private_half_loads_and_matches(new_key: NewSigningKey) -> None:
    private = load_private_key(new_key.kid, new_key.alg, new_key.private_pem)
    assert private.kid == new_key.kid and private.key.thumbprint() == new_key.kid
    assert "PRIVATE" not in repr(private)  # key material is kept out of repr
    assert key_fits_algorithm(private.key, new_key.alg)


def test_import_public_jwk_refuses_private_members(new_key: NewSigningKey) -> None:
    private = load_private_key(new_key.kid, new_key.alg, new_key.private_pem).key.as_dict(private=True)
    with pytest.raises(KeyImportError, match="private"):
        import_public_jwk(private)
    for member in PRIVATE_MEMBERS:
        with pytest.raises(KeyImportError):
            import_public_jwk(new_key.public_jwk | {member: "AQAB"})


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "RSA", "n": "not base64!", "e": "AQAB"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {},
    ],
)
def test_import_public_jwk_refuses_other_keys(jwk: dict[str, Any]) -> None:
    with pytest.raises(KeyImportError):
        import_public_jwk(jwk)


def test_unsupported_algorithm_and_bad_pem() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        generate_signing_key("HS256")  # type: ignore[arg-type]
    with pytest.raises(KeyImportError):
        load_private_key("kid", "RS256", b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
