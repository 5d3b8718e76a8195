"""``/console/o/{slug}``: the dashboard (``audit.activity.summary``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from namoid.admin import scopes
from namoid.audit import activity
from namoid.storage.models import utcnow
from namoid.web.admin_console.auth import Console, console_page, requires, services_of

router = APIRouter()
Reader = Annotated[Console, Depends(requires(scopes.AUDIT_READ))]


@router.get("", include_in_schema=False)
async def dashboard(request: Request, console: Reader) -> Response:
    found = await activity.summary(services_of(request).db, console.org.id, utcnow())
    peak = max([1, *(max(day.signed_in, day.failed) for day in found.days)])
    return console_page(request, console, "admin_dashboard.html", {"summary": found, "peak": peak})
