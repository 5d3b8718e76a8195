"""``/dev/mailbox``: the dev sender's emails and SMS in the browser, like MailHog; dev mode only.

Outside dev mode the page does not exist (404).
Only the text of each message is shown (autoescaped); an HTML part is never rendered here.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import HTMLResponse

from namoid.notify.dev import mailbox_dir, read_mailbox
from namoid.services import Services
from namoid.web.templates import render

router = APIRouter()


@router.get("/dev/mailbox", response_class=HTMLResponse, include_in_schema=False)
async def mailbox(request: Request) -> HTMLResponse:
    services: Services = request.app.state.services
    if not services.settings.is_dev:
        raise HTTPException(status_code=404, detail="Not Found")
    directory = mailbox_dir(services.settings.data_dir)
    received = await asyncio.to_thread(read_mailbox, directory)
    response = render(request, "dev_mailbox.html", {"received": received, "directory": str(directory)})
    response.headers["Cache-Control"] = "no-store"
    return response
