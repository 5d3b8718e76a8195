"""Keyed hashes of verified names (Aadhaar offline KYC): HMAC-SHA-256 under a per-org key.

A bare hash of a name falls to a dictionary of names, so the stored value is an HMAC
(RFC 2104) whose key is derived from the keyring pepper for one organization (HKDF,
RFC 5869, with the org id in ``info``): the same name in two orgs gives unrelated values.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"namoid/kyc-name-mac/v1/"


def _org_key(pepper: bytes, org_id: uuid.UUID) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + org_id.bytes).derive(pepper)


def name_mac(pepper: bytes, org_id: uuid.UUID, normalised_name: str) -> str:
    """Lowercase hex HMAC-SHA-256 of the (already normalised) name under the org's key."""
    return hmac.new(_org_key(pepper, org_id), normalised_name.encode("utf-8"), hashlib.sha256).hexdigest()


def name_mac_matches(pepper: bytes, org_id: uuid.UUID, normalised_name: str, stored: str) -> bool:
    """Constant-time comparison of a name against a stored ``name_mac``."""
    return hmac.compare_digest(name_mac(pepper, org_id, normalised_name), stored)
