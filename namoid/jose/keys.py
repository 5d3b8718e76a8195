"""Signing keys: generation, RFC 7638 thumbprint key ids, loading the private half."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

Algorithm = Literal["RS256", "PS256", "ES256"]
#: Signature algorithms NamoID signs with and accepts (RFC 7518 §3.1); never "none" or HMAC.
SIGNING_ALGORITHMS: tuple[Algorithm, ...] = ("RS256", "PS256", "ES256")
RSA_BITS = 2048

JoseKey = RSAKey | ECKey


class KeyImportError(ValueError):
    """A key could not be loaded (malformed PEM or JWK, wrong type)."""


@dataclass(frozen=True, slots=True)
class NewSigningKey:
    kid: str
    alg: Algorithm
    public_jwk: dict[str, Any]
    private_pem: bytes


@dataclass(frozen=True, slots=True)
class PrivateSigningKey:
    """A loaded private key, ready to sign; its material never leaves namoid.jose."""

    kid: str
    alg: Algorithm
    key: JoseKey = field(repr=False)


def _generate(alg: Algorithm) -> JoseKey:
    if alg == "ES256":
        return ECKey.generate_key("P-256", auto_kid=False)
    return RSAKey.generate_key(RSA_BITS, auto_kid=False)


def generate_signing_key(alg: Algorithm = "RS256") -> NewSigningKey:
    """A fresh key for ``alg`` (RSA-2048 for RS256/PS256, P-256 for ES256); kid = RFC 7638 thumbprint."""
    if alg not in SIGNING_ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    key = _generate(alg)
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    return NewSigningKey(kid=kid, alg=alg, public_jwk=public, private_pem=key.as_pem(private=True))


def load_private_key(kid: str, alg: Algorithm, private_pem: bytes) -> PrivateSigningKey:
    key_type = ECKey if alg == "ES256" else RSAKey
    try:
        key = key_type.import_key(private_pem)
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyImportError(f"cannot load the private key {kid}") from exc
    return PrivateSigningKey(kid=kid, alg=alg, key=key)


def import_public_jwk(jwk: dict[str, Any]) -> JoseKey:
    """A public key from a JWK (RFC 7517 §4); private members are refused."""
    if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi")):
        raise KeyImportError("a public JWK must not carry private key members")
    try:
        if jwk.get("kty") == "RSA":
            return RSAKey.import_key(jwk)
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            return ECKey.import_key(jwk)
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyImportError("malformed JWK") from exc
    raise KeyImportError("only RSA and EC P-256 keys are accepted")


def key_fits_algorithm(key: JoseKey, alg: str) -> bool:
    """RFC 8725 §3.1: a key is used only with the algorithm family it was made for."""
    if alg in ("RS256", "PS256"):
        return isinstance(key, RSAKey)
    return alg == "ES256" and isinstance(key, ECKey)
