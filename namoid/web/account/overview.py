"""``{issuer}/account``: the console's overview, a summary of the profile and where to go next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from namoid.web.account.console_auth import ConsoleUser, console_page

router = APIRouter()


@router.get("/account", include_in_schema=False)
async def overview(request: Request, console: ConsoleUser) -> Response:
    """The signed-in user's profile at a glance, with links to every section."""
    return console_page(request, console, "account_overview.html", {})
