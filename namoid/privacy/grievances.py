"""Grievances (issue 13 item 7): DPDP Act s.8(9)-(10) and s.13, DPDP Rules R.9 and R.14(3).

Each org publishes a response period (1-90 days, default 30) and its DPO or contact person
(``namoid org set-grievance``). A signed-in user raises a ticket (category, subject, bounded
text); it is due ``response period`` days later. The org answers it or rejects it with a
reason (``namoid grievances respond``), once; the user is told by email through the one
outbox, with the contact person and how to complain to the Data Protection Board. Every
change is audited without the ticket's text (personal data stays in its own table). The
export and erasure of a user's tickets are ``SECTION`` (namoid.privacy.sections).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.accounts.users import normalize_email
from namoid.conflicts import StateConflict
from namoid.crypto.keyring import Keyring
from namoid.notify import grievance_mail, outbox
from namoid.notify.wakeup import Wakeup
from namoid.privacy.registry import (
    STRING,
    TIME,
    UUID,
    DataPrincipal,
    Erasure,
    Json,
    Section,
    array_of,
    iso,
    nullable,
    obj,
)
from namoid.storage.db import Database
from namoid.storage.models import Grievance, Organization, User
from namoid.storage.repos import grievances as rows
from namoid.storage.repos import organizations as org_rows
from namoid.storage.repos import personal_data, users
from namoid.tenancy.organizations import require

MAX_RESPONSE_DAYS = 90  # R.14(3): "not exceeding ninety days"
CATEGORIES = ("access", "correction", "erasure", "consent", "nomination", "other")
STATUSES = ("open", "answered", "rejected")
LOCALES = ("en", "hi")
MAX_SUBJECT = 200
MAX_TEXT = 4000
BOARD_URL = grievance_mail.BOARD_URL


@dataclass(frozen=True, slots=True)
class GrievancePolicy:
    response_days: int | None = None
    contact_name: str | None = None
    contact_email: str | None = None


def _bounded(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > limit:
        raise ValueError(f"{what} must be at most {limit} characters")
    return value


def policy_changes(policy: GrievancePolicy) -> dict[str, object]:
    """The org columns ``policy`` sets, each validated (ValueError names the bad one)."""
    changes: dict[str, object] = {}
    if policy.response_days is not None:
        if not 1 <= policy.response_days <= MAX_RESPONSE_DAYS:
            raise ValueError(
                f"--response-days must be between 1 and {MAX_RESPONSE_DAYS} (DPDP Rules R.14(3))"
            )
        changes["grievance_response_days"] = policy.response_days
    if policy.contact_name is not None:
        changes["dpo_name"] = _bounded(policy.contact_name, "--contact-name", 200)
    if policy.contact_email is not None:
        changes["dpo_email"] = normalize_email(policy.contact_email)
    return changes


async def set_policy(db: Database, slug: str, policy: GrievancePolicy, actor: audit.Actor) -> Organization:
    """Publish the org's response period and contact person (audited)."""
    org = await require(db, slug)
    changes = policy_changes(policy)
    if not changes:
        raise ValueError("give at least one of --response-days, --contact-name, --contact-email")
    async with db.tenant(org.id) as session:
        await org_rows.set_settings(session, org.id, changes)
        await audit.record(
            session,
            org.id,
            actor=actor,
            action="org.grievance_policy_changed",
            target_type="org",
            target_id=slug,
            detail={"changed": sorted(changes)},
        )
    return await require(db, slug)


def published(org: Organization) -> dict[str, Any]:
    """What the org publishes: its response period, contact person and the Board's address."""
    return {
        "response_days": org.grievance_response_days,
        "contact_name": org.dpo_name,
        "contact_email": org.dpo_email,
        "board_url": BOARD_URL,
    }


def contact_line(org: Organization) -> str:
    if org.dpo_email:
        return f"{org.dpo_name} <{org.dpo_email}>" if org.dpo_name else org.dpo_email
    return org.dpo_name or org.name


async def raise_ticket(
    session: AsyncSession,
    org: Organization,
    user: User,
    *,
    category: str,
    subject: str,
    text: str,
    locale: str,
    now: datetime,
) -> Grievance:
    """A new open ticket of ``user``, due after the org's response period (audited, no text)."""
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
    ticket = await rows.add(
        session,
        org.id,
        Grievance(
            id=uuid.uuid4(),
            user_id=user.id,
            category=category,
            subject=_bounded(subject, "The subject", MAX_SUBJECT),
            text=_bounded(text, "The grievance", MAX_TEXT),
            locale=locale if locale in LOCALES else "en",
            created_at=now,
            due_at=now + timedelta(days=org.grievance_response_days),
            status="open",
        ),
    )
    await audit.record(
        session,
        org.id,
        actor=audit.Actor("user", str(user.id)),
        action="grievance.raised",
        target_type="grievance",
        target_id=str(ticket.id),
        detail={"category": category, "due_at": ticket.due_at.isoformat()},
    )
    return ticket


async def tickets(
    session: AsyncSession, org_id: uuid.UUID, *, status: str | None = None, user_id: uuid.UUID | None = None
) -> Sequence[Grievance]:
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    return await rows.list_for(session, org_id, status=status, user_id=user_id)


async def list_tickets(db: Database, org_id: uuid.UUID, status: str | None = None) -> list[dict[str, Any]]:
    """The org's tickets, the soonest due first, as ``describe`` shows them (the CLI, the admin API)."""
    async with db.tenant(org_id) as session:
        return [describe(ticket) for ticket in await tickets(session, org_id, status=status)]


def ticket_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value[:64])
    except ValueError:
        raise ValueError(f"not a ticket id: {value[:64]!r}") from None


def describe(ticket: Grievance) -> dict[str, Any]:
    return {
        "id": str(ticket.id),
        "user_id": str(ticket.user_id),
        "category": ticket.category,
        "subject": ticket.subject,
        "text": ticket.text,
        "created_at": iso(ticket.created_at),
        "due_at": iso(ticket.due_at),
        "status": ticket.status,
        "response": ticket.response,
        "responded_at": iso(ticket.responded_at),
    }


async def respond(
    db: Database,
    keyring: Keyring,
    wakeup: Wakeup,
    org: Organization,
    ticket: uuid.UUID,
    *,
    text: str,
    reject: bool,
    actor: audit.Actor,
    now: datetime,
) -> Grievance:
    """Answer (or reject, ``text`` being the reason) an open ticket, once; email the user."""
    response = _bounded(text, "The response" if not reject else "The reason for rejecting", MAX_TEXT)
    status = "rejected" if reject else "answered"
    responder = f"{actor.type}:{actor.id}" if actor.id else actor.type
    async with db.tenant(org.id) as session:
        found = await rows.get(session, org.id, ticket)
        if found is None:
            raise LookupError(f"no grievance {ticket} in {org.slug}")
        if not await rows.close(
            session, org.id, ticket, status=status, response=response, responder=responder, now=now
        ):
            raise StateConflict(f"grievance {ticket} is already {found.status}")
        await audit.record(
            session,
            org.id,
            actor=actor,
            action=f"grievance.{status}",
            target_type="grievance",
            target_id=str(ticket),
            detail={"category": found.category, "late": now > found.due_at},
        )
        user = await users.get(session, org.id, found.user_id)
        if user is not None and user.deleted_at is None:
            answer = grievance_mail.Answer(
                org_name=org.name,
                subject=found.subject,
                raised=found.created_at.date().isoformat(),
                outcome=status,
                response=response,
                contact=contact_line(org),
            )
            message = grievance_mail.answered(user.email, answer, found.locale, org.email_from)
            await outbox.enqueue(
                session, keyring, wakeup, org.id, message, actor, now, test_mode=org.test_mode
            )
        await session.refresh(found)
    return found


async def _export(session: AsyncSession, who: DataPrincipal) -> Json:
    return [describe(ticket) for ticket in await rows.list_for(session, who.org_id, user_id=who.user_id)]


async def _erase(session: AsyncSession, who: DataPrincipal) -> None:
    await personal_data.delete_rows_of_user(session, who.org_id, Grievance.user_id, who.user_id)


#: The tickets' part of the data export; the purge deletes them (the audit log keeps only ids).
SECTION: Final = Section(
    name="grievances",
    title="Grievances",
    tables=("grievances",),
    schema=array_of(
        obj(
            id=UUID,
            user_id=UUID,
            category={"enum": list(CATEGORIES)},
            subject=STRING,
            text=STRING,
            created_at=TIME,
            due_at=TIME,
            status={"enum": list(STATUSES)},
            response=nullable(STRING),
            responded_at=nullable(TIME),
        )
    ),
    export=_export,
    erasure=Erasure("delete", _erase),
)
