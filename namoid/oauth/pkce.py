"""Proof Key for Code Exchange with S256 only (RFC 7636; OAuth 2.1 §4.1.1, §4.1.3)."""

from __future__ import annotations

import base64
import hashlib
import re

from namoid.crypto.secrets import constant_time_equals
from namoid.oauth.errors import InvalidGrant, InvalidRequest

# RFC 7636 §4.1: code-verifier = 43*128unreserved
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def s256(verifier: str) -> str:
    """BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_verifier(verifier: str | None, challenge: str) -> None:
    """RFC 7636 §4.6: the verifier must be present, well-formed, and hash to the challenge.

    Missing or malformed → invalid_request; a mismatch → invalid_grant. Compared in constant time.
    """
    if verifier is None:
        raise InvalidRequest("code_verifier is required")
    if not _VERIFIER.fullmatch(verifier):
        raise InvalidRequest("code_verifier must be 43-128 unreserved characters (RFC 7636 4.1)")
    if not constant_time_equals(s256(verifier), challenge):
        raise InvalidGrant("code_verifier does not match the code challenge")
