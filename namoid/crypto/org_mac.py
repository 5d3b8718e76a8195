"""Keyed hashes under a per-org key: HMAC-SHA-256 (RFC 2104) with a key derived from the pepper.

A bare hash of a name, an email or a phone number falls to a dictionary, so identifiers that
must be matched later without being readable are kept as an HMAC whose key is derived from
the keyring pepper for one organization and one purpose (HKDF, RFC 5869, with the purpose
label and the org id in ``info``): the same value in two orgs, or for two purposes, gives
unrelated hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def org_key(pepper: bytes, org_id: uuid.UUID, label: bytes) -> bytes:
    """The org's 256-bit key for the purpose ``label`` (e.g. ``b"namoid/kyc-name-mac/v1/"``)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label + org_id.bytes).derive(pepper)


def org_mac(pepper: bytes, org_id: uuid.UUID, label: bytes, value: str) -> str:
    """Lowercase hex HMAC-SHA-256 of ``value`` (UTF-8) under the org's key for ``label``."""
    return hmac.new(org_key(pepper, org_id, label), value.encode("utf-8"), hashlib.sha256).hexdigest()
