"""Signing-key generation with RFC 7638 thumbprint key ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from joserfc.jwk import RSAKey

RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class NewSigningKey:
    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private_pem: bytes


def generate_rs256_key() -> NewSigningKey:
    """A fresh RSA-2048 key for RS256 (RFC 7518 §3.3); ``kid`` is its RFC 7638 thumbprint."""
    key = RSAKey.generate_key(RSA_BITS, auto_kid=False)
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "alg": "RS256", "use": "sig"}
    return NewSigningKey(kid=kid, alg="RS256", public_jwk=public, private_pem=key.as_pem(private=True))
