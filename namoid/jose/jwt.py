"""JWT signing and verification (RFC 7519, RFC 8725 best practices).

``verify`` is one call that does everything: an algorithm allow-list (never ``none`` or
HMAC), key selection by ``kid`` with the key's own algorithm family, the signature, the
``typ`` header, and the registered claims (iss, aud, exp, nbf, iat).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Collection, Sequence
from typing import Any, TypeGuard

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from namoid.jose.keys import (
    SIGNING_ALGORITHMS,
    JoseKey,
    KeyImportError,
    PrivateSigningKey,
    import_public_jwk,
    key_fits_algorithm,
)

MAX_TOKEN_LENGTH = 16 * 1024


class JWTError(ValueError):
    """The token is malformed, unsigned, mis-signed, or its claims do not hold."""


def sign(claims: dict[str, Any], key: PrivateSigningKey, *, typ: str = "JWT") -> str:
    header = {"alg": key.alg, "kid": key.kid, "typ": typ}
    return jwt.encode(header, claims, key.key, algorithms=[key.alg])


def unverified_header(token: str) -> dict[str, Any]:
    """The protected header, for routing only (e.g. which client a token claims to be)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise JWTError("not a compact JWS")
    try:
        header = extract_compact(token.encode("ascii")).protected
    except (JoseError, ValueError, UnicodeError) as exc:
        raise JWTError("malformed JWS") from exc
    if not isinstance(header, dict):
        raise JWTError("malformed JWS header")
    return header


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload without checking anything: only to find which key to verify with."""
    unverified_header(token)
    try:
        payload = json.loads(extract_compact(token.encode("ascii")).payload)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise JWTError("malformed JWT payload") from exc
    if not isinstance(payload, dict):
        raise JWTError("JWT payload is not an object")
    return payload


def _select_key(
    header: dict[str, Any], jwks: Sequence[dict[str, Any]], algorithms: Collection[str]
) -> JoseKey:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in SIGNING_ALGORITHMS:
        raise JWTError(f"algorithm {alg!r} is not accepted")
    kid = header.get("kid")
    candidates = [k for k in jwks if kid is None or k.get("kid") == kid]
    if kid is None and len(candidates) != 1:
        raise JWTError("token has no kid and the key is ambiguous")
    for jwk in candidates:
        if jwk.get("alg") not in (None, alg) or jwk.get("use") not in (None, "sig"):
            continue
        try:
            key = import_public_jwk(jwk)
        except KeyImportError:
            continue
        if key_fits_algorithm(key, alg):
            return key
    raise JWTError("no matching key")


def typ_matches(actual: object, expected: str) -> bool:
    """RFC 8725 §3.11 / RFC 9068 §4: compare media types without the ``application/`` prefix."""
    if not isinstance(actual, str):
        return False
    return _media_type(actual) == _media_type(expected)


def _media_type(value: str) -> str:
    return value.lower().removeprefix("application/")


def _is_time(value: object) -> TypeGuard[float]:
    """A NumericDate (RFC 7519 §2): a finite number, not a bool (NaN would never expire)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_audience(aud: object, audience: str | Collection[str], *, sole: bool) -> None:
    """RFC 7519 §4.1.3: one of ours among the token's audiences; with ``sole``, the only one
    (a string, or an array of one element)."""
    wanted = {audience} if isinstance(audience, str) else set(audience)
    present = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if sole and len(present) != 1:
        raise JWTError("the audience must be a single value")
    if not any(isinstance(value, str) and value in wanted for value in present):
        raise JWTError("wrong audience")


def _check_claims(
    claims: dict[str, Any],
    *,
    issuer: str | None,
    audience: str | Collection[str] | None,
    sole_audience: bool,
    leeway: int,
    now: float,
    expires: bool,
) -> None:
    if issuer is not None and claims.get("iss") != issuer:
        raise JWTError("wrong issuer")
    if audience is not None:
        _check_audience(claims.get("aud"), audience, sole=sole_audience)
    exp = claims.get("exp")
    if (expires or exp is not None) and (not _is_time(exp) or exp + leeway <= now):
        raise JWTError("token expired or without exp")
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_time(nbf) or nbf - leeway > now):
        raise JWTError("token not yet valid")
    iat = claims.get("iat")
    if iat is not None and (not _is_time(iat) or iat - leeway > now):
        raise JWTError("token issued in the future")


def verify(
    token: str,
    jwks: Sequence[dict[str, Any]],
    *,
    algorithms: Collection[str] = SIGNING_ALGORITHMS,
    issuer: str | None,
    audience: str | Collection[str] | None,
    sole_audience: bool = False,
    typ: str | None = None,
    leeway: int = 0,
    now: float | None = None,
    expires: bool = True,
) -> dict[str, Any]:
    """Verify ``token`` against public ``jwks`` and return its claims, or raise JWTError.

    ``exp`` is required unless ``expires`` is False (a statement that does not lapse,
    such as a signed audit checkpoint); when present it is always checked. With
    ``sole_audience`` the token must name no audience but one of ``audience``.
    """
    header = unverified_header(token)
    if typ is not None and not typ_matches(header.get("typ"), typ):
        raise JWTError("wrong token type")
    if "crit" in header:
        raise JWTError("critical header parameters are not supported")
    key = _select_key(header, jwks, algorithms)
    try:
        decoded = jwt.decode(token, key, algorithms=[header["alg"]])
    except (JoseError, ValueError, TypeError) as exc:
        raise JWTError("bad signature") from exc
    claims = dict(decoded.claims)
    _check_claims(
        claims,
        issuer=issuer,
        audience=audience,
        sole_audience=sole_audience,
        leeway=leeway,
        now=time.time() if now is None else now,
        expires=expires,
    )
    return claims
