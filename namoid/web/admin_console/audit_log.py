"""``/console/o/{slug}/audit``: the audit log viewer (``audit.export.page``), filtered, a page at a
time in chain order, and its export as the JSON Lines file ``namoid audit verify --file`` checks."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response, StreamingResponse

from namoid.admin import cursors, scopes
from namoid.audit import export
from namoid.storage.repos.audit_chain import AuditFilter
from namoid.web.admin_console.auth import Console, console_page, requires, services_of

router = APIRouter(prefix="/audit")
Reader = Annotated[Console, Depends(requires(scopes.AUDIT_READ))]
PAGE = 100
FIELDS = ("since", "until", "actor_type", "actor_id", "action")
_LIMITS = {"actor_type": 16, "actor_id": 200, "action": 64}


def _moment(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not a time such as 2026-12-07T10:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a time zone, such as 2026-12-07T10:00:00Z")
    return moment


def wanted(request: Request) -> tuple[AuditFilter, dict[str, str]]:
    """The filter the query asks for, and the filters as given (to fill the form again)."""
    given = {name: request.query_params.get(name, "").strip() for name in FIELDS}
    for name, limit in _LIMITS.items():
        if len(given[name]) > limit:
            raise ValueError(f"{name} must be at most {limit} characters")
    chosen = AuditFilter(
        since=_moment("since", given["since"]) if given["since"] else None,
        until=_moment("until", given["until"]) if given["until"] else None,
        actor_type=given["actor_type"] or None,
        actor_id=given["actor_id"] or None,
        action=given["action"] or None,
    )
    return chosen, given


@router.get("", include_in_schema=False)
async def audit_entries(request: Request, console: Reader) -> Response:
    chosen, given = wanted(request)
    query = asdict(chosen)
    cursor = request.query_params.get("cursor")
    inner = None if not cursor else cursors.decode(cursor, console.org.id, query)
    found = await export.page(services_of(request).db, console.org.id, chosen, inner, PAGE)
    filters = {name: value for name, value in given.items() if value}
    next_url = None
    if found.next_cursor is not None:
        following = cursors.encode(console.org.id, query, found.next_cursor)
        next_url = console.url("/audit?" + urlencode(filters | {"cursor": following}))
    context = {
        "entries": found.items,
        "given": given,
        "next_url": next_url,
        "export_url": console.url("/audit/export" + (f"?{urlencode(filters)}" if filters else "")),
    }
    return console_page(request, console, "admin_audit.html", context)


@router.get("/export", include_in_schema=False)
async def export_entries(request: Request, console: Reader) -> Response:
    """Every matching entry with its seal, one JSON object a line (a download)."""
    chosen, _ = wanted(request)
    lines = export.export_lines(services_of(request).db, console.org.id, chosen)
    headers = {
        "Content-Disposition": f'attachment; filename="audit-{console.org.slug}.jsonl"',
        "Cache-Control": "no-store",
    }
    return StreamingResponse(lines, media_type="application/jsonl", headers=headers)
