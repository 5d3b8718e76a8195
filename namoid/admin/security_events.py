"""``/admin/v1/security-events``: the org's security events (DESIGN.md §5), newest first,
filtered and cursor-paginated like the audit log (``namoid.admin.cursors``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from namoid.admin import cursors, scopes
from namoid.admin.access import Admin, requires
from namoid.admin.audit_log import aware
from namoid.admin.problems import Problem
from namoid.admin.schemas import SecurityEventOut, SecurityEventPage
from namoid.events import history
from namoid.services import Services

router = APIRouter(prefix="/security-events", tags=["security events"])
Reader = Annotated[Admin, Depends(requires(scopes.EVENTS_READ))]
MAX_PAGE = 500


@router.get("", response_model=SecurityEventPage, summary="Security events, newest first")
async def security_events(
    request: Request,
    admin: Reader,
    name: Annotated[str | None, Query(max_length=64, description="e.g. signing_key.rotated")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=cursors.MAX_CURSOR)] = None,
) -> SecurityEventPage:
    aware(since, until)
    wanted = history.EventFilter(name=name, since=since, until=until)
    query = asdict(wanted)
    after = None if cursor is None else cursors.decode(cursor, admin.org.id, query)
    services: Services = request.app.state.services
    try:
        found = await history.page(services.db, admin.org.id, wanted, after, limit)
    except ValueError:
        raise Problem(400, "the cursor is malformed") from None
    more = len(found) == limit
    next_cursor = cursors.encode(admin.org.id, query, history.position(found[-1])) if more else None
    return SecurityEventPage(
        items=[SecurityEventOut.model_validate(e, from_attributes=True) for e in found],
        next_cursor=next_cursor,
    )
