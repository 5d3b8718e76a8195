"""``/console/o/{slug}/inbox``: a test-mode org's captured emails and SMS (``notify.outbox.inbox``),
newest first, read-only; 404 for an org that sends for real."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import Response

from namoid.admin import scopes
from namoid.notify.outbox import inbox
from namoid.web.admin_console.auth import Console, console_page, requires, services_of

router = APIRouter(prefix="/inbox")
Reader = Annotated[Console, Depends(requires(scopes.USERS_READ))]


@router.get("", include_in_schema=False)
async def test_inbox(request: Request, console: Reader) -> Response:
    if not console.org.test_mode:
        raise HTTPException(404, "this organization is not in test mode: it has no inbox")
    services = services_of(request)
    async with services.db.tenant(console.org.id) as session:
        messages = await inbox(session, services.keyring, console.org.id)
    return console_page(request, console, "admin_inbox.html", {"messages": messages})
