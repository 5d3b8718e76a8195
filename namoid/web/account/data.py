"""``{issuer}/account/data``: the user's data export and a readable summary of it (issue 13).

Asking for an export and fetching it are sensitive (the whole account in one file): both POSTs
need a fresh sign-in (step-up) and a CSRF token. The export is produced by the worker
(``privacy.export_jobs``); when it is ready, "Download" mints a single-use link valid for ten
minutes and follows it at once. The link works only in a console signed in as the same user;
a used or expired one is refused and changes nothing. The summary page shows the same
document, section by section, as the export would contain it now.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from namoid.privacy import export, export_jobs
from namoid.privacy.export_jobs import ExportRefused
from namoid.privacy.sections import SECTIONS
from namoid.services import Services
from namoid.storage.models import utcnow
from namoid.web.account.console_auth import Console, ConsoleUser, console_page, require_fresh_auth

router = APIRouter()
Fresh = Annotated[Console, Depends(require_fresh_auth())]
#: What each refusal answers with: a conflict with the export under way, or a link gone for good.
STATUS: Final = {"running": 409, "ready": 409, "not_ready": 409, "no_account": 404, "link_unknown": 404}
STATUS_WORDS: Final = {
    "pending": "Being prepared",
    "ready": "Ready to download",
    "downloaded": "Downloaded",
    "expired": "Expired before it was downloaded (deleted)",
    "failed": "Could not be prepared",
}


#: Words of the document's keys said differently on the summary page.
WORDS: Final = {
    "id": "ID", "ip": "IP", "sid": "session ID", "sha256": "SHA-256", "kib": "KiB", "aadhaar": "Aadhaar",
}  # fmt: skip
_UTC_TIME: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")


def _label(key: str) -> str:
    text = " ".join(WORDS.get(word, word) for word in key.split("_"))
    return text[:1].upper() + text[1:]


def readable(value: Any) -> Any:
    """The document for people: keys as words, UTC times to the second; nothing left out."""
    if isinstance(value, dict):
        return {_label(str(key)): readable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [readable(item) for item in value]
    if isinstance(value, str) and _UTC_TIME.fullmatch(value):
        return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M:%S} UTC"
    return value


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _render(
    request: Request, console: Console, *, notice: str | None = None, error: str | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    services = _services(request)
    latest = await export_jobs.latest(services.db, console.org.id, console.user.id)
    context: dict[str, object] = {
        "notice": notice,
        "error": error,
        "action": console.url("/data"),
        "summary_url": console.url("/data/summary"),
        "schema_url": export.SCHEMA_PATH,
        "latest": latest,
        "latest_status": STATUS_WORDS[latest.status] if latest else None,
        "busy": latest is not None and latest.status in ("pending", "ready"),
        "document_hours": int(export_jobs.DOCUMENT_TTL.total_seconds() // 3600),
        "link_minutes": int(export_jobs.LINK_TTL.total_seconds() // 60),
    }
    return console_page(request, console, "account_data.html", context, status_code=status)


@router.get("/account/data", include_in_schema=False)
async def data_page(request: Request, console: ConsoleUser) -> Response:
    """The latest export's status, and the forms to ask for one and to download it."""
    return await _render(request, console)


@router.post("/account/data", include_in_schema=False)
async def data_action(request: Request, console: Fresh) -> Response:
    """``do=export``: ask for an export; ``do=download``: mint a single-use link and follow it."""
    services = _services(request)
    action = console.form.get("do")
    try:
        if action == "export":
            await export_jobs.request(services.db, console.org.id, console.user.id, console.actor)
            notice = "Your export is being prepared. Reload this page in a minute to download it."
            return await _render(request, console, notice=notice)
        if action == "download":
            link = await export_jobs.issue_link(services.db, console.org.id, console.user.id)
            location = console.url(f"/data/download/{link.token}")
            return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})
    except ExportRefused as refused:
        return await _render(request, console, error=str(refused), status=STATUS.get(refused.reason, 410))
    return await _render(request, console, error="Choose one of the buttons on this page.", status=400)


@router.get("/account/data/download/{token}", include_in_schema=False)
async def download(request: Request, token: str, console: ConsoleUser) -> Response:
    """The export file, once; a used, expired or foreign link is refused (nothing changes)."""
    services = _services(request)
    try:
        body = await export_jobs.download(
            services.db, services.keyring, console.org.id, token, user_id=console.user.id
        )
    except ExportRefused as refused:
        return await _render(request, console, error=str(refused), status=STATUS.get(refused.reason, 410))
    name = f"namoid-export-{console.org.slug}-{datetime.now(UTC):%Y%m%d}.json"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(body, media_type="application/json", headers=headers)


@router.get("/account/data/summary", include_in_schema=False)
async def summary(request: Request, console: ConsoleUser) -> Response:
    """Everything the export would hold now, section by section, in words."""
    document = await export.read(_services(request).db, console.org, console.user.id, utcnow())
    sections = [(section.title, readable(document["sections"][section.name])) for section in SECTIONS]
    context = {"sections": sections, "generated_at": readable(document["generated_at"])}
    context["data_url"] = console.url("/data")
    return console_page(request, console, "account_data_summary.html", context)
