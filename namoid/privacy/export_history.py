"""The export's own section: the user's past and pending data exports (never a document or link)."""

from __future__ import annotations

from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.privacy.registry import (
    INTEGER,
    STRING,
    TIME,
    DataPrincipal,
    Erasure,
    Json,
    Section,
    array_of,
    iso,
    nullable,
    obj,
)
from namoid.storage.models import DataExport
from namoid.storage.repos import personal_data


async def _exports(session: AsyncSession, who: DataPrincipal) -> Json:
    rows = await personal_data.rows_of_user(
        session, who.org_id, DataExport.user_id, who.user_id, DataExport.requested_at
    )
    return [
        {
            "requested_at": iso(row.requested_at),
            "requested_by": row.requested_by,
            "status": row.status,
            "produced_at": iso(row.produced_at),
            "size": row.size,
            "downloaded_at": iso(row.downloaded_at),
            "ended_at": iso(row.ended_at),
        }
        for row in rows
    ]


async def _erase(session: AsyncSession, who: DataPrincipal) -> None:
    await personal_data.delete_rows_of_user(session, who.org_id, DataExport.user_id, who.user_id)


DATA_EXPORTS: Final = Section(
    name="data_exports",
    title="Your data exports",
    tables=("data_exports",),
    schema=array_of(
        obj(
            requested_at=TIME,
            requested_by=STRING,
            status={"enum": ["pending", "ready", "downloaded", "expired", "failed"]},
            produced_at=nullable(TIME),
            size=nullable(INTEGER),
            downloaded_at=nullable(TIME),
            ended_at=nullable(TIME),
        )
    ),
    export=_exports,
    erasure=Erasure("delete", _erase),
)
