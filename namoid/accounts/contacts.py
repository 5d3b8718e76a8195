"""Changing a signed-in user's email or phone (issue 13, closing issue 11's gap): the new
address replaces the old one only once a one-time code sent to it came back.

``start_change`` issues a ``verify_email`` / ``verify_phone`` challenge (``accounts.otp``)
bound to the browser session and the new address, and queues its message (the outbox).
If another account already has the address, the challenge is issued and audited but no
message goes out (``accounts.codes.send``), so the page does not tell whose address it is.
``finish_change`` checks the code against that challenge (purpose, session, address; a wrong
code counts, the fifth kills it), then replaces the contact, marks it verified, audits
``user.email_changed`` / ``user.phone_changed`` and raises ``user.identifier_changed`` (RISC
identifier-changed) for the relying parties.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, events
from namoid.accounts import codes, otp
from namoid.accounts.codes import Channel
from namoid.crypto.keyring import Keyring
from namoid.notify.messages import Message
from namoid.notify.wakeup import Wakeup
from namoid.storage.models import Organization, User
from namoid.storage.repos import users

PURPOSES: dict[Channel, otp.Purpose] = {"email": "verify_email", "sms": "verify_phone"}
COLUMNS: dict[Channel, str] = {"email": "email", "sms": "phone"}
Outcome = otp.Verdict | Literal["taken"]


async def _taken(session: AsyncSession, org_id: uuid.UUID, user: User, channel: Channel, value: str) -> bool:
    return await users.contact_in_use(session, org_id, COLUMNS[channel], value, user.id)


async def start_change(
    session: AsyncSession,
    keyring: Keyring,
    wakeup: Wakeup,
    org: Organization,
    user: User,
    *,
    channel: Channel,
    destination: str,
    interaction: str,
    compose: Callable[[str], Message],
    now: datetime,
) -> uuid.UUID:
    """The challenge for the new ``destination`` (normalized); its code queued unless taken."""
    deliver = not await _taken(session, org.id, user, channel, destination)
    return await codes.send(
        session, keyring, wakeup, org,
        purpose=PURPOSES[channel], channel=channel, destination=destination,
        interaction=interaction, deliver=deliver, compose=compose, now=now,
    )  # fmt: skip


async def finish_change(
    session: AsyncSession,
    keyring: Keyring,
    org_id: uuid.UUID,
    user: User,
    *,
    channel: Channel,
    challenge_id: uuid.UUID,
    destination: str,
    code: str,
    interaction: str,
    now: datetime,
) -> Outcome:
    """``verified`` once the contact was replaced; else why not (nothing changed then)."""
    actor = audit.Actor("user", str(user.id))
    verdict = await otp.verify(
        session, otp.Challenger(keyring.pepper, actor), org_id, challenge_id,
        purpose=PURPOSES[channel], interaction=interaction, code=code, now=now, destination=destination,
    )  # fmt: skip
    if verdict != "verified":
        return verdict
    if await _taken(session, org_id, user, channel, destination):
        return "taken"
    column = COLUMNS[channel]
    await users.set_verified_contact(session, org_id, user.id, column, destination)
    await audit.record(
        session,
        org_id,
        actor=actor,
        action=f"user.{column}_changed",
        target_type="user",
        target_id=str(user.id),
        detail={"to": codes.masked(channel, destination), "verified_by": "code"},
    )
    await events.raise_event(
        session,
        org_id,
        "user.identifier_changed",
        actor=actor,
        subject=events.user_subject(user.id),
        target_type="user",
        target_id=str(user.id),
        detail={"identifier": column},
    )
    return "verified"
