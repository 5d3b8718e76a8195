"""The KYC room's personal data (DESIGN.md §8): the masked offline e-KYC record, as stored.

The last four Aadhaar digits, the result, the signer certificate's SHA-256 and the times; the
keyed name hash stays out (it identifies nothing to its owner and only serves matching).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.privacy.registry import STRING, TIME, DataPrincipal, Erasure, Json, Section, iso, nullable, obj
from namoid.storage.repos import kyc as kyc_repo


async def _erase(session: AsyncSession, who: DataPrincipal) -> None:
    """Normally gone already: deleting the account erased it (``kyc.service.erase_in``)."""
    await kyc_repo.delete_record(session, who.org_id, who.user_id)


async def _identity_verification(session: AsyncSession, who: DataPrincipal) -> Json:
    row = await kyc_repo.get_record(session, who.org_id, who.user_id)
    if row is None:
        return None
    return {
        "method": "aadhaar_offline_ekyc",
        "aadhaar_last4": row.last4,
        "result": row.result,
        "signer_certificate_sha256": row.signer_sha256,
        "file_generated_at": iso(row.generated_at),
        "verified_at": iso(row.verified_at),
    }


IDENTITY_VERIFICATION: Final = Section(
    name="identity_verification",
    title="Identity verification (Aadhaar offline e-KYC, masked)",
    tables=("kyc_records",),
    schema=nullable(
        obj(
            method={"const": "aadhaar_offline_ekyc"},
            aadhaar_last4={"type": "string", "pattern": "^[0-9]{4}$", "examples": ["1234"]},
            result=STRING,
            signer_certificate_sha256=STRING,
            file_generated_at=TIME,
            verified_at=TIME,
        )
    ),
    export=_identity_verification,
    erasure=Erasure("delete", _erase),
)
