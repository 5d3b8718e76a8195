"""``{issuer}/account``: connected applications (withdraw in one click), consent history with
receipts, and the access summary (DPDP Act s.6(4), s.11).

Thin: every page reads ``privacy.relying_parties`` / ``privacy.receipts`` and the one button
calls ``privacy.withdrawal.withdraw``, the same function as ``DELETE {issuer}/consents/{id}``.
Withdrawing is one POST with the console's CSRF token, as easy as the consent it ends.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from namoid.privacy import receipts, relying_parties, withdrawal
from namoid.services import Services
from namoid.tenancy.resolve import issuer_for
from namoid.web.account.console_auth import Console, ConsoleUser, console_page

#: Three sections, one nav entry each: applications, history (with receipts), access summary.
router = APIRouter()
history_router = APIRouter()
access_router = APIRouter()


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _when(value: str | None) -> str:
    """An ISO time as the console shows it (UTC, to the minute)."""
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _consent_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if len(value) <= 36 else None
    except ValueError:
        return None


async def _applications(
    request: Request, console: Console, notice: str | None = None, status: int = 200
) -> Response:
    listed = await relying_parties.connected_applications(
        _services(request).db, console.org.id, console.user.id
    )
    rows: list[dict[str, Any]] = [
        app | {"granted": _when(app["granted_at"]), "first": _when(app["first_issued_at"]),
               "last": _when(app["last_issued_at"]),
               "receipt_url": console.url(f"/consents/{app['consent_id']}/receipt")}
        for app in listed
    ]  # fmt: skip
    context = {
        "applications": rows,
        "notice": notice,
        "withdraw_action": console.url("/applications/withdraw"),
    }
    return console_page(request, console, "account_applications.html", context, status_code=status)


@router.get("/account/applications", include_in_schema=False)
async def applications_page(request: Request, console: ConsoleUser) -> Response:
    """The relying parties the user's consent stands for, what each receives, and since when."""
    return await _applications(request, console)


@router.post("/account/applications/withdraw", include_in_schema=False)
async def withdraw_application(request: Request, console: ConsoleUser) -> Response:
    """Withdraw one consent: its tokens revoked, the relying party told (namoid.privacy.withdrawal)."""
    consent_id = _consent_id(console.form.get("consent", ""))
    if consent_id is None:
        return await _applications(request, console, "Choose one of the applications below.", 400)
    try:
        done = await withdrawal.withdraw(
            _services(request).db, console.org.id, console.user.id, consent_id, how="console"
        )
    except withdrawal.ConsentNotFound:
        return await _applications(request, console, "Choose one of the applications below.", 404)
    notice = (
        "Access withdrawn. The application was told." if done.changed else "That access had already ended."
    )
    return await _applications(request, console, notice)


@history_router.get("/account/consents", include_in_schema=False)
async def history_page(request: Request, console: ConsoleUser) -> Response:
    """Every consent given and withdrawn, relying parties and connected providers alike."""
    history = await relying_parties.consent_history(_services(request).db, console.org.id, console.user.id)
    rows = [
        record | {"when": _when(record["occurred_at"]),
                  "receipt_url": console.url(f"/consents/{record['consent_id']}/receipt")}
        for record in reversed(history)
    ]  # fmt: skip
    return console_page(request, console, "account_consents.html", {"records": rows})


@history_router.get("/account/consents/{consent_id}/receipt", include_in_schema=False)
async def receipt_download(request: Request, console: ConsoleUser, consent_id: str) -> Response:
    """The consent receipt (JSON) of one grant, as a download."""
    parsed = _consent_id(consent_id)
    issuer = issuer_for(_services(request).settings.base_url, console.org.slug)
    try:
        if parsed is None:
            raise withdrawal.ConsentNotFound("no such consent")
        body = await receipts.receipt(_services(request).db, console.org, issuer, console.user.id, parsed)
    except withdrawal.ConsentNotFound:
        context: dict[str, object] = {"records": [], "error": "There is no such consent in your account."}
        return console_page(request, console, "account_consents.html", context, 404)
    disposition = f'attachment; filename="consent-receipt-{parsed}.json"'
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Content-Disposition": disposition})


@access_router.get("/account/access", include_in_schema=False)
async def access_page(request: Request, console: ConsoleUser) -> Response:
    """DPDP s.11: which applications received which of your data, when, under which consent."""
    parties = await relying_parties.access_summary(_services(request).db, console.org.id, console.user.id)
    for party in parties:
        for release in party["releases"]:
            release["when"] = _when(release["at"])
    return console_page(request, console, "account_access.html", {"parties": parties})
