"""Grievances (issue 13 item 7) on SQLite and PostgreSQL: the published policy and its bounds, a
ticket raised, listed and answered once, the answer emailed through the outbox, oversized text
refused, one org's tickets invisible to another (in code and by RLS), the public page."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, text

from namoid.notify.delivery import MessageDelivery
from namoid.notify.dev import mailbox_dir, read_mailbox
from namoid.privacy import grievances
from namoid.privacy.registry import DataPrincipal
from namoid.privacy.sections import SECTIONS
from namoid.services import Services
from namoid.storage.models import AuditEntry, Grievance, Organization, User, utcnow
from namoid.tenancy import organizations, sign_in
from tests.conftest import POSTGRES_ONLY
from tests.features.conftest import ADMIN, MakeUser

POLICY = grievances.GrievancePolicy(
    response_days=15, contact_name="Asha Rao", contact_email="DPO@Example.com"
)


async def _raise(services: Services, org: Organization, user: User, **fields: str) -> Grievance:
    fields = {
        "category": "erasure",
        "subject": "Delete my data",
        "text": "Please erase it.",
        "locale": "en",
    } | fields
    async with services.db.tenant(org.id) as session:
        return await grievances.raise_ticket(session, org, user, now=utcnow(), **fields)


async def _actions(services: Services, org: Organization) -> list[str]:
    async with services.db.tenant(org.id) as session:
        query = select(AuditEntry.action).where(AuditEntry.org_id == org.id).order_by(AuditEntry.seq)
        return list((await session.scalars(query)).all())


async def _count(services: Services, org: Organization) -> int:
    async with services.db.tenant(org.id) as session:
        return int(await session.scalar(select(func.count()).select_from(Grievance)) or 0)


async def test_the_response_period_is_at_most_90_days_and_every_change_is_audited(
    services: Services, org: Organization
) -> None:
    for days in (0, 91, 365):
        with pytest.raises(ValueError, match="between 1 and 90"):
            await grievances.set_policy(services.db, org.slug, grievances.GrievancePolicy(days), ADMIN)
    with pytest.raises(ValueError, match="invalid email"):
        await grievances.set_policy(
            services.db, org.slug, grievances.GrievancePolicy(contact_email="nope"), ADMIN
        )
    assert "org.grievance_policy_changed" not in await _actions(services, org)
    assert (await organizations.require(services.db, org.slug)).grievance_response_days == 30  # the default
    changed = await grievances.set_policy(services.db, org.slug, POLICY, ADMIN)
    assert grievances.published(changed) == {
        "response_days": 15,
        "contact_name": "Asha Rao",
        "contact_email": "dpo@example.com",
        "board_url": grievances.BOARD_URL,
    }
    assert (
        await grievances.set_policy(services.db, org.slug, grievances.GrievancePolicy(90), ADMIN)
    ).grievance_response_days == 90
    assert (await _actions(services, org)).count("org.grievance_policy_changed") == 2


async def test_a_ticket_is_due_after_the_period_answered_once_and_the_answer_is_emailed(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    await sign_in.set_policy(
        services.db, org.slug, sign_in.SignInPolicy(email_from="dpo@acme.example"), ADMIN
    )
    org = await grievances.set_policy(services.db, org.slug, POLICY, ADMIN)
    user = await make_user()
    ticket = await _raise(services, org, user)
    assert ticket.status == "open" and ticket.due_at - ticket.created_at == timedelta(days=15)
    async with services.db.tenant(org.id) as session:
        assert [t.id for t in await grievances.tickets(session, org.id, status="open")] == [ticket.id]
        assert await grievances.tickets(session, org.id, status="answered") == []
    answered = await grievances.respond(
        services.db, services.keyring, services.wakeup, org, ticket.id,
        text="Your account data was erased on request.", reject=False, actor=ADMIN, now=utcnow(),
    )  # fmt: skip
    assert answered.status == "answered" and answered.responded_at is not None
    assert answered.responder == "admin:test"
    with pytest.raises(ValueError, match="already answered"):
        await grievances.respond(
            services.db, services.keyring, services.wakeup, org, ticket.id,
            text="again", reject=True, actor=ADMIN, now=utcnow(),
        )  # fmt: skip
    await MessageDelivery(services).run(org_ids=[org.id])
    [mail] = [
        m.message for m in read_mailbox(mailbox_dir(services.settings.data_dir)) if m.message.to == user.email
    ]
    assert mail.kind == "email" and "answered" in mail.subject  # type: ignore[union-attr]
    assert mail.from_address == "dpo@acme.example"  # type: ignore[union-attr]  # the org's own From
    assert "Your account data was erased on request." in mail.text
    assert "Asha Rao <dpo@example.com>" in mail.text and grievances.BOARD_URL in mail.text
    actions = await _actions(services, org)
    assert {"grievance.raised", "grievance.answered", "message.enqueued"} <= set(actions)
    async with services.db.tenant(org.id) as session:
        details = (
            await session.scalars(select(AuditEntry.detail).where(AuditEntry.action.like("grievance.%")))
        ).all()
    assert "erase" not in str(details)  # the ticket's and the response's text stay out of the audit log


async def test_a_rejection_needs_a_reason_and_is_told_in_the_users_language(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    user = await make_user()
    ticket = await _raise(services, org, user, locale="hi", category="correction")
    for empty in ("", "   "):
        with pytest.raises(ValueError, match="must not be empty"):
            await grievances.respond(
                services.db, services.keyring, services.wakeup, org, ticket.id,
                text=empty, reject=True, actor=ADMIN, now=utcnow(),
            )  # fmt: skip
    rejected = await grievances.respond(
        services.db, services.keyring, services.wakeup, org, ticket.id,
        text="The record is correct.", reject=True, actor=ADMIN, now=utcnow(),
    )  # fmt: skip
    assert rejected.status == "rejected" and rejected.response == "The record is correct."
    await MessageDelivery(services).run(org_ids=[org.id])
    [mail] = [
        m.message for m in read_mailbox(mailbox_dir(services.settings.data_dir)) if m.message.to == user.email
    ]
    assert "अस्वीकार" in mail.subject and "डेटा संरक्षण बोर्ड" in mail.text  # type: ignore[union-attr]


async def test_oversized_or_malformed_tickets_are_refused_and_store_nothing(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    user = await make_user()
    refused = {
        "The grievance must be at most 4000": {"text": "x" * (grievances.MAX_TEXT + 1)},
        "The subject must be at most 200": {"subject": "s" * 201},
        "must not be empty": {"text": " "},
        "category must be one of": {"category": "spam"},
    }
    for message, fields in refused.items():
        with pytest.raises(ValueError, match=message):
            await _raise(services, org, user, **fields)
    assert await _count(services, org) == 0
    assert "grievance.raised" not in await _actions(services, org)
    ticket = await _raise(services, org, user)
    with pytest.raises(ValueError, match="at most 4000"):
        await grievances.respond(
            services.db, services.keyring, services.wakeup, org, ticket.id,
            text="y" * 4001, reject=False, actor=ADMIN, now=utcnow(),
        )  # fmt: skip
    async with services.db.tenant(org.id) as session:
        assert [t.status for t in await grievances.tickets(session, org.id)] == ["open"]
        with pytest.raises(ValueError, match="status must be one of"):
            await grievances.tickets(session, org.id, status="closed")


async def test_one_orgs_tickets_are_invisible_to_another(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    other = await organizations.create(
        services.db, services.keyring, f"o-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    ticket = await _raise(services, org, await make_user())
    async with services.db.tenant(other.id) as session:
        assert await grievances.tickets(session, other.id) == []
    with pytest.raises(LookupError):
        await grievances.respond(
            services.db, services.keyring, services.wakeup, other, ticket.id,
            text="not yours", reject=False, actor=ADMIN, now=utcnow(),
        )  # fmt: skip
    async with services.db.tenant(org.id) as session:
        assert [t.status for t in await grievances.tickets(session, org.id)] == ["open"]


@POSTGRES_ONLY
async def test_rls_hides_another_orgs_tickets_even_without_the_filter(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    other = await organizations.create(
        services.db, services.keyring, f"o-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    await _raise(services, org, await make_user())
    async with services.db.tenant(other.id) as session:
        assert (await session.execute(text("SELECT count(*) FROM grievances"))).scalar_one() == 0
        updated = await session.execute(text("UPDATE grievances SET status = 'answered'"))
        assert updated.rowcount == 0  # type: ignore[attr-defined]
    assert await _count(services, org) == 1


async def test_tickets_are_in_the_export_and_erased_at_purge(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    user, bystander = await make_user(), await make_user()
    ticket = await _raise(services, org, user)
    await _raise(services, org, bystander)
    assert grievances.SECTION in SECTIONS and grievances.SECTION.erasure is not None
    who = DataPrincipal(org.id, user.id, utcnow())
    async with services.db.tenant(org.id) as session:
        exported = await grievances.SECTION.export(session, who)
        assert [(t["id"], t["text"]) for t in exported] == [(str(ticket.id), "Please erase it.")]  # type: ignore[index,union-attr]
        assert grievances.SECTION.erasure.run is not None
        await grievances.SECTION.erasure.run(session, who)
        assert await grievances.SECTION.export(session, who) == []
    assert await _count(services, org) == 1  # the bystander's ticket stays


async def test_the_public_privacy_page_names_the_contact_the_period_and_the_board(
    http: httpx.AsyncClient, services: Services, org: Organization
) -> None:
    default = await http.get(f"/o/{org.slug}/privacy")
    assert default.status_code == 200 and "30" in default.text and "not yet named a contact" in default.text
    await grievances.set_policy(services.db, org.slug, POLICY, ADMIN)
    services.orgs.invalidate(org.slug)
    page = await http.get(f"/o/{org.slug}/privacy")
    assert "Asha Rao" in page.text and "mailto:dpo@example.com" in page.text
    assert (
        "<strong>15\n          days</strong>" in page.text and f'href="{grievances.BOARD_URL}"' in page.text
    )
    assert (await http.get("/o/no-such-org/privacy")).status_code == 404
