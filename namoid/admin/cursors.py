"""Opaque page cursors bound to the org and the query they continue.

A cursor carries the org's id, a digest of the query's filters and the position in the
listing; presented by another org, or with other filters, it is refused (400) instead of
continuing some other listing. The position is not secret: an org only ever pages through
its own rows (the query and RLS both scope it), so the cursor needs no signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Mapping

from namoid.admin.problems import Problem

MAX_CURSOR = 512


def _binding(org_id: uuid.UUID, query: Mapping[str, object]) -> str:
    canonical = json.dumps({"org": str(org_id), "query": query}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def encode(org_id: uuid.UUID, query: Mapping[str, object], position: str) -> str:
    raw = json.dumps({"b": _binding(org_id, query), "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def decode(cursor: str, org_id: uuid.UUID, query: Mapping[str, object]) -> str:
    """The position ``cursor`` continues from; Problem 400 if it is malformed or not this listing's."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        binding, position = data["b"], data["p"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise Problem(400, "the cursor is malformed") from None
    if binding != _binding(org_id, query) or not isinstance(position, str):
        raise Problem(400, "the cursor belongs to another listing (another organization or query)")
    return position
