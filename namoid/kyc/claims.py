"""``verified_claims`` (OpenID Connect for Identity Assurance 1.0 §5) from a KYC record.

NamoID vouches for one claim: the user's CURRENT profile name, and only while its keyed
hash equals the one stored when an Aadhaar offline e-KYC file was verified (a changed
name stops being verified). The verification element names:

- ``trust_framework``: ``in_uidai_okyc``. IDA's registry has no Indian framework; this
  NamoID-defined value means "UIDAI Aadhaar Paperless Offline e-KYC, verified by an
  OVSE-style relying party against UIDAI's pinned signing certificates".
- ``time``: when NamoID verified the file.
- ``evidence``: one ``electronic_record`` (IDA 1.0 §5.1.1.3) of record type
  ``aadhaar_paperless_offline_ekyc`` from UIDAI, with the file's generation ``time``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.crypto.keyring import Keyring
from namoid.kyc import service
from namoid.storage.models import User

TRUST_FRAMEWORK: Final = "in_uidai_okyc"
EVIDENCE_TYPE: Final = "electronic_record"
RECORD_TYPE: Final = "aadhaar_paperless_offline_ekyc"
CLAIMS: Final = ("name",)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def verified_claims(
    session: AsyncSession, org_id: uuid.UUID, keyring: Keyring, user: User, requested: Sequence[str]
) -> dict[str, Any] | None:
    """The ``verified_claims`` element for ``user``, or None if nothing requested can be vouched for."""
    if "name" not in requested or user.name is None:
        return None
    record = await service.verified_name(session, org_id, keyring, user)
    if record is None:
        return None
    evidence = {
        "type": EVIDENCE_TYPE,
        "record": {
            "type": RECORD_TYPE,
            "source": {"name": "Unique Identification Authority of India", "country_code": "IND"},
        },
        "time": _time(record.generated_at),
    }
    verification = {
        "trust_framework": TRUST_FRAMEWORK,
        "time": _time(record.verified_at),
        "evidence": [evidence],
    }
    return {"verification": verification, "claims": {"name": user.name}}
