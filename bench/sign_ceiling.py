"""The single-core RS256 ceiling: signatures per second, run pinned to the server's core.

    taskset -c 0 .venv/bin/python bench/sign_ceiling.py [--seconds 2]

Prints JSON with two rates over ``--seconds`` each:
- ``raw_rs256_per_s``: RSASSA-PKCS1-v1_5 SHA-256 with a 2048-bit key through ``cryptography``
  (OpenSSL) alone, the hard ceiling of one core;
- ``jwt_sign_per_s``: ``namoid.jose.jwt.sign`` of an RFC 9068 access token, what the token
  endpoint actually calls (JSON, base64url and joserfc on top of the signature).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from namoid.jose import jwt
from namoid.jose.keys import generate_signing_key, load_private_key

CLAIMS: dict[str, Any] = {
    "iss": "https://localhost:8443/o/bench",
    "sub": "s6BhdRkqt3-client-id-of-twenty4",
    "aud": "https://localhost:8443/o/bench",
    "client_id": "s6BhdRkqt3-client-id-of-twenty4",
    "scope": "api",
    "jti": "8Zq0f1yJ3mR8VwY2c9nKQA",
    "iat": 1_900_000_000,
    "exp": 1_900_000_600,
}


def per_second(operation: Callable[[], object], seconds: float) -> float:
    """How many times ``operation`` runs per second, measured over about ``seconds``."""
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            operation()
        count += 20
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0)
    seconds = parser.parse_args().seconds
    new = generate_signing_key("RS256")
    key = load_private_key(new.kid, new.alg, new.private_pem)
    rsa = key.key.private_key
    if not isinstance(rsa, RSAPrivateKey):
        raise TypeError("an RS256 key is an RSA key")
    message = jwt.sign(CLAIMS, key, typ="at+jwt").rsplit(".", 1)[0].encode()
    results = {
        "raw_rs256_per_s": per_second(
            lambda: rsa.sign(message, padding.PKCS1v15(), hashes.SHA256()), seconds
        ),
        "jwt_sign_per_s": per_second(lambda: jwt.sign(CLAIMS, key, typ="at+jwt"), seconds),
    }
    print(json.dumps({name: round(rate, 1) for name, rate in results.items()}))


if __name__ == "__main__":
    main()
