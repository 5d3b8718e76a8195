"""The console's Grievances section (issue 13 item 7), on SQLite and PostgreSQL: the contact person,
the response period and the Board are shown; a ticket is raised with a CSRF-checked form, bounded,
rate-limited per user, and listed with its due date and, once answered, the answer; another
user's tickets never appear."""

from __future__ import annotations

from sqlalchemy import func, select

from namoid.privacy import grievances
from namoid.ratelimit.limiter import Limiter
from namoid.services import Services
from namoid.storage.models import Grievance, Organization, utcnow
from tests.features.account.conftest import ConsoleBrowser
from tests.features.conftest import ADMIN, MakeUser

TICKET = {"category": "erasure", "subject": "Old address", "text": "Please erase my old address."}


async def _tickets(services: Services, org: Organization) -> int:
    async with services.db.tenant(org.id) as session:
        return int(await session.scalar(select(func.count()).select_from(Grievance)) or 0)


async def test_the_page_names_the_contact_the_period_and_the_board(
    console: ConsoleBrowser, services: Services, org: Organization
) -> None:
    await grievances.set_policy(
        services.db, org.slug, grievances.GrievancePolicy(45, "Asha Rao", "dpo@example.com"), ADMIN
    )
    services.orgs.invalidate(org.slug)
    page = await console.open("/grievances")
    assert page.status_code == 200
    assert "45 days" in page.text and "Asha Rao" in page.text and "mailto:dpo@example.com" in page.text
    assert f'href="{grievances.BOARD_URL}"' in page.text and 'href="/o/' in page.text
    assert "You have not raised any grievance." in page.text


async def test_a_ticket_is_raised_listed_with_its_due_date_and_later_its_answer(
    console: ConsoleBrowser, services: Services, org: Organization, make_user: MakeUser
) -> None:
    fields = await console.form("/grievances")
    raised = await console.post("/grievances", {"csrf_token": fields["csrf_token"], **TICKET})
    assert raised.status_code == 200 and "Your grievance was received" in raised.text
    async with services.db.tenant(org.id) as session:
        [ticket] = await grievances.tickets(session, org.id, user_id=console.user.id)
    assert ticket.status == "open" and ticket.text == TICKET["text"]
    assert f"Answer due by</dt><dd>{ticket.due_at:%Y-%m-%d}" in raised.text
    await grievances.respond(
        services.db, services.keyring, services.wakeup, org, ticket.id,
        text="Erased on 1 January.", reject=False, actor=ADMIN, now=utcnow(),
    )  # fmt: skip
    page = await console.open("/grievances")
    assert "Erased on 1 January." in page.text and "answered" in page.text

    other = ConsoleBrowser(console.http, services, org, await make_user())
    console.http.cookies.clear()
    assert "Old address" not in (await other.open("/grievances")).text  # only one's own tickets


async def test_forged_oversized_or_too_many_tickets_are_refused(
    console: ConsoleBrowser, services: Services, org: Organization
) -> None:
    fields = await console.form("/grievances")
    forged = await console.post("/grievances", {"csrf_token": "forged", **TICKET})
    assert forged.status_code == 403
    oversized = await console.post(
        "/grievances", {"csrf_token": fields["csrf_token"], **TICKET, "text": "x" * (grievances.MAX_TEXT + 1)}
    )
    assert oversized.status_code == 400 and "at most 4000 characters" in oversized.text
    odd = await console.post(
        "/grievances", {"csrf_token": fields["csrf_token"], **TICKET, "category": "spam"}
    )
    assert odd.status_code == 400 and "category must be one of" in odd.text
    assert await _tickets(services, org) == 0

    await services.limiter.close()
    services.limiter = Limiter(overrides={"grievance.raise": "1/hour"})
    assert (
        await console.post("/grievances", {"csrf_token": fields["csrf_token"], **TICKET})
    ).status_code == 200
    limited = await console.post("/grievances", {"csrf_token": fields["csrf_token"], **TICKET})
    assert limited.status_code == 429 and limited.headers["ratelimit-policy"].startswith('"grievance.raise";')
    assert await _tickets(services, org) == 1
