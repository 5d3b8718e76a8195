"""Rate limits at the browser pages (namoid.ratelimit): their per-IP ceilings, the per-IP
limit of requests refused by a cheap check, and the HTML 429.

Cheap checks come first: a form post without a live session, a valid CSRF token or an open
sign-in request is refused before it can spend a shared budget (``login.org``), and such
refusals are counted per IP (``interaction.refused_ip``); once an address has used those up
it gets 429, and no further audit row each (namoid.ratelimit.refusals).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from namoid import audit
from namoid.ratelimit import refusals
from namoid.ratelimit.keys import request_ip
from namoid.ratelimit.limiter import Decision
from namoid.ratelimit.responses import TOO_MANY_REQUESTS, rate_limit_headers
from namoid.services import Services
from namoid.storage.models import BrowserSession, Organization
from namoid.web.csrf import record_refusal
from namoid.web.responses import forbidden
from namoid.web.templates import error_page

REFUSED = "interaction.refused_ip"
ANONYMOUS = audit.Actor("user")


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def page_refusal(request: Request, decision: Decision) -> Response:
    """The HTML 429: a friendly explanation of how long to wait."""
    minutes = max(1, -(-decision.reset_after // 60))
    wait = "a minute" if minutes == 1 else f"{minutes} minutes"
    response = error_page(
        request,
        TOO_MANY_REQUESTS,
        "Too many attempts",
        f"For your security, sign-in is paused for a while. Wait {wait} and try again.",
    )
    response.headers.update(rate_limit_headers(decision))
    return response


async def too_many(
    request: Request, org: Organization, decision: Decision, session: AsyncSession | None = None
) -> Response:
    """The 429 for ``decision``, audited if it is the first of its window (in ``session`` if given)."""
    services = _services(request)
    if await refusals.first_in_window(services.limiter, org.slug, decision):
        if session is not None:
            await refusals.record(session, org.id, decision, ANONYMOUS)
        else:
            async with services.db.tenant(org.id) as own:
                await refusals.record(own, org.id, decision, ANONYMOUS)
    return page_refusal(request, decision)


async def ceiling(request: Request, org: Organization, policy: str) -> Response | None:
    """Count the request against ``policy`` for its IP; the 429 once the ceiling is reached."""
    decision = await _services(request).limiter.hit(policy, request_ip(request), org=org.slug)
    return None if decision.allowed else await too_many(request, org, decision)


async def _refused_cheaply(request: Request, org: Organization) -> Decision | None:
    decision = await _services(request).limiter.hit(REFUSED, request_ip(request), org=org.slug)
    return None if decision.allowed else decision


async def refuse(
    request: Request, org: Organization, answer: Response, session: AsyncSession | None = None
) -> Response:
    """``answer`` to a request refused by a cheap check, or the 429 once its IP has had too many."""
    decision = await _refused_cheaply(request, org)
    return answer if decision is None else await too_many(request, org, decision, session)


async def refuse_form(
    session: AsyncSession, request: Request, org: Organization, browser: BrowserSession | None, form: str
) -> Response:
    """A form post without a valid CSRF token: 403 and ``csrf.rejected``, or the 429 (as ``refuse``)."""
    decision = await _refused_cheaply(request, org)
    if decision is not None:
        return await too_many(request, org, decision, session)
    await record_refusal(session, org.id, browser, form)
    return forbidden(request)
