"""Keyed hashes of verified names (Aadhaar offline KYC): HMAC-SHA-256 under a per-org key.

A bare hash of a name falls to a dictionary of names, so the stored value is an HMAC
under the org's key for this purpose (namoid.crypto.org_mac): the same name in two orgs
gives unrelated values.
"""

from __future__ import annotations

import hmac
import uuid

from namoid.crypto.org_mac import org_mac

_INFO = b"namoid/kyc-name-mac/v1/"


def name_mac(pepper: bytes, org_id: uuid.UUID, normalised_name: str) -> str:
    """Lowercase hex HMAC-SHA-256 of the (already normalised) name under the org's key."""
    return org_mac(pepper, org_id, _INFO, normalised_name)


def name_mac_matches(pepper: bytes, org_id: uuid.UUID, normalised_name: str, stored: str) -> bool:
    """Constant-time comparison of a name against a stored ``name_mac``."""
    return hmac.compare_digest(name_mac(pepper, org_id, normalised_name), stored)
