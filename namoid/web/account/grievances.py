"""``{issuer}/account/grievances``: raise a grievance and follow it (issue 13 item 7; DPDP Act
s.8(10), s.13; Rules R.9, R.14(3)).

The page names the org's DPO or contact person and its published response period, lists the
user's own tickets with their due date and answer, and says how to complain to the Data
Protection Board once the process is done. A new ticket is a CSRF-checked POST
(``ConsoleUser``) counted against ``grievance.raise`` per user; the service
(``privacy.grievances``) bounds it and audits it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from namoid.privacy import grievances
from namoid.storage.models import utcnow
from namoid.web import limits
from namoid.web.account.console_auth import Console, ConsoleUser, console_page
from namoid.web.code_messages import choose_locale

router = APIRouter()
CATEGORY_LABELS = {
    "access": "See what data you hold about me",
    "correction": "Correct or complete my data",
    "erasure": "Erase my data",
    "consent": "My consent or its withdrawal",
    "nomination": "My nominee",
    "other": "Something else",
}


async def _render(
    request: Request,
    console: Console,
    *,
    notice: str | None = None,
    error: str | None = None,
    draft: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with request.app.state.services.db.tenant(console.org.id) as session:
        tickets = await grievances.tickets(session, console.org.id, user_id=console.user.id)
    context = {
        "tickets": sorted(tickets, key=lambda ticket: ticket.created_at, reverse=True),
        "published": grievances.published(console.org),
        "categories": CATEGORY_LABELS,
        "max_subject": grievances.MAX_SUBJECT,
        "max_text": grievances.MAX_TEXT,
        "action": console.url("/grievances"),
        "privacy_url": f"/o/{console.org.slug}/privacy",
        "draft": {"category": "", "subject": "", "text": ""} | (draft or {}),
        "notice": notice,
        "error": error,
    }
    return console_page(request, console, "account_grievances.html", context, status_code=status)


@router.get("/account/grievances", include_in_schema=False)
async def grievances_page(request: Request, console: ConsoleUser) -> Response:
    """The user's tickets, the contact person, the response period and the Board."""
    return await _render(request, console)


@router.post("/account/grievances", include_in_schema=False)
async def raise_grievance(request: Request, console: ConsoleUser) -> Response:
    """A new ticket, due after the org's response period."""
    services = request.app.state.services
    decision = await services.limiter.hit("grievance.raise", str(console.user.id), org=console.org.slug)
    if not decision.allowed:
        return await limits.too_many(request, console.org, decision)
    draft = {
        name: console.form.get(name, "")[: grievances.MAX_TEXT + 1]
        for name in ("category", "subject", "text")
    }
    locale = choose_locale(request.headers.get("accept-language"))
    try:
        async with services.db.tenant(console.org.id) as session:
            ticket = await grievances.raise_ticket(
                session, console.org, console.user, category=draft["category"], subject=draft["subject"],
                text=draft["text"], locale=locale, now=utcnow(),
            )  # fmt: skip
    except ValueError as refusal:
        return await _render(request, console, error=f"{refusal}.", draft=draft, status=400)
    due = ticket.due_at.strftime("%Y-%m-%d")
    return await _render(
        request, console, notice=f"Your grievance was received. It will be answered by {due}."
    )
