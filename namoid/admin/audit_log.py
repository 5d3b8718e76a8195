"""``/admin/v1/audit``: the org's audit log, filtered and cursor-paginated (``audit.export.page``),
and ``/admin/v1/audit/export``: the same entries as the JSON Lines stream with seals that
``namoid audit verify --file`` checks (``audit.export.export_lines``, the CLI's export).

Entries come in chain order, each with its seal once the worker sealed it; the cursor is
bound to the org and the filters (``namoid.admin.cursors``).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from namoid.admin import cursors, scopes
from namoid.admin.access import Admin, requires
from namoid.admin.problems import Problem
from namoid.admin.schemas import AuditEntryOut, AuditPage
from namoid.audit import export
from namoid.services import Services
from namoid.storage.repos.audit_chain import AuditFilter

router = APIRouter(prefix="/audit", tags=["audit"])
Reader = Annotated[Admin, Depends(requires(scopes.AUDIT_READ))]
MAX_PAGE = 500
JSON_LINES = "application/jsonl"


def aware(*moments: datetime | None) -> None:
    """Problem 422 unless every given time carries a time zone."""
    for moment in moments:
        if moment is not None and moment.tzinfo is None:
            raise Problem(422, "since and until need a time zone, e.g. 2026-12-07T10:00:00Z")


def audit_filter(
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
    actor_type: Annotated[str | None, Query(max_length=16)] = None,
    actor_id: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditFilter:
    aware(since, until)
    return AuditFilter(since=since, until=until, actor_type=actor_type, actor_id=actor_id, action=action)


Filter = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("", response_model=AuditPage, summary="Audit entries, oldest first")
async def audit_entries(
    request: Request,
    admin: Reader,
    wanted: Filter,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=cursors.MAX_CURSOR)] = None,
) -> AuditPage:
    query = asdict(wanted)
    inner = None if cursor is None else cursors.decode(cursor, admin.org.id, query)
    services: Services = request.app.state.services
    try:
        found = await export.page(services.db, admin.org.id, wanted, inner, limit)
    except export.InvalidCursor:
        raise Problem(400, "the cursor is malformed") from None
    next_cursor = (
        None if found.next_cursor is None else cursors.encode(admin.org.id, query, found.next_cursor)
    )
    return AuditPage(
        items=[AuditEntryOut.model_validate(item) for item in found.items], next_cursor=next_cursor
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    summary="The matching entries as JSON Lines with their seals (check with `namoid audit verify --file`)",
    responses={200: {"content": {JSON_LINES: {"schema": {"type": "string"}}}}},
)
async def audit_export(request: Request, admin: Reader, wanted: Filter) -> StreamingResponse:
    services: Services = request.app.state.services
    return StreamingResponse(
        export.export_lines(services.db, admin.org.id, wanted),
        media_type=JSON_LINES,
        headers={"Content-Disposition": f'attachment; filename="audit-{admin.org.slug}.jsonl"'},
    )
