"""One-time codes in the sign-in flows (issue 11 item 3): who gets a code, and what a right code does.

``send`` issues a challenge (namoid.accounts.otp) and queues its message (namoid.notify.outbox)
in the caller's transaction. Whether the destination belongs to an account decides only
whether a message is queued: both paths issue and audit a challenge and HMAC the
destination, and the page that follows is the same, so neither the page nor its timing
tells which emails or numbers have accounts (no enumeration). A test-mode org's message
stays in its inbox.

``user_for`` finds the account a code may act on; ``reset_password`` sets the new password,
ends every session and refresh family of the user (``grant_revocation.revoke_user``) and
raises ``password.reset``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, events
from namoid.accounts import otp
from namoid.accounts.users import normalize_email, validate_password
from namoid.crypto.keyring import Keyring
from namoid.crypto.passwords import hash_password
from namoid.notify import outbox
from namoid.notify.messages import Message, mask_email, mask_phone
from namoid.notify.wakeup import Wakeup
from namoid.oauth import grant_revocation
from namoid.ratelimit.login import account_key
from namoid.storage.db import Database
from namoid.storage.models import Organization, User
from namoid.storage.repos import users

Channel = Literal["email", "sms"]
#: RFC 8176 §2 method references for a code by email (a one-time password) and by SMS.
CODE_AMR: dict[Channel, tuple[str, ...]] = {"email": ("otp",), "sms": ("otp", "sms")}
ANONYMOUS = audit.Actor("user")


async def user_for(
    session: AsyncSession, org_id: uuid.UUID, channel: Channel, destination: str
) -> User | None:
    """The active account a normalized email or a *verified* E.164 number belongs to, if any.

    A phone an admin typed in and nobody verified is not the account's yet: it gets no sign-in
    code (the number may be mistyped or recycled), so it cannot sign in, nor become verified
    that way. The email is different: it is the account's identifier and its password-reset
    channel, so a code sent to it and typed back both signs in and verifies it."""
    if channel == "email":
        user = await users.get_by_email(session, org_id, destination)
    else:
        user = await users.get_by_phone(session, org_id, destination)
        user = user if user is not None and user.phone_verified else None
    return user if user is not None and user.status == "active" else None


async def address_taken(session: AsyncSession, org_id: uuid.UUID, channel: Channel, destination: str) -> bool:
    """Whether any account holds the address, whatever its status: a disabled one, or a deleted
    one until its purge (issue 13), keeps it, so a sign-up with it is refused like any taken one."""
    column = "email" if channel == "email" else "phone"
    return await users.contact_in_use(session, org_id, column, destination)


def masked(channel: Channel, destination: str) -> str:
    return mask_email(destination) if channel == "email" else mask_phone(destination)


async def send(
    session: AsyncSession,
    keyring: Keyring,
    wakeup: Wakeup,
    org: Organization,
    *,
    purpose: otp.Purpose,
    channel: Channel,
    destination: str,
    interaction: str,
    deliver: bool,
    compose: Callable[[str], Message],
    now: datetime,
) -> uuid.UUID:
    """A challenge for ``destination``; its code is queued only if ``deliver`` (see the module doc)."""
    who = otp.Challenger(keyring.pepper, ANONYMOUS)
    issued = await otp.issue(
        session, who, org.id, purpose=purpose, interaction=interaction, destination=destination, now=now,
        digits=org.challenge_digits,
    )  # fmt: skip
    if deliver:
        await outbox.enqueue(
            session, keyring, wakeup, org.id, compose(issued.code), ANONYMOUS, now, test_mode=org.test_mode
        )
    else:
        await audit.record(
            session,
            org.id,
            actor=ANONYMOUS,
            action="otp.code_withheld",
            target_type="otp_challenge",
            target_id=str(issued.challenge_id),
            outcome="denied",
            detail={
                "purpose": purpose,
                "kind": channel,
                "destination": masked(channel, destination),
                "destination_hash": account_key(keyring.pepper, org.id, destination),
            },
        )
    return issued.challenge_id


async def resend(
    session: AsyncSession,
    keyring: Keyring,
    wakeup: Wakeup,
    org: Organization,
    challenge_id: uuid.UUID,
    *,
    interaction: str,
    deliver: bool,
    compose: Callable[[str], Message],
    now: datetime,
) -> bool:
    """A fresh code for the challenge (after its cool-down), queued if ``deliver``; False if refused."""
    who = otp.Challenger(keyring.pepper, ANONYMOUS)
    code = await otp.resend(session, who, org.id, challenge_id, interaction=interaction, now=now)
    if code is None:
        return False
    if deliver:
        await outbox.enqueue(
            session, keyring, wakeup, org.id, compose(code), ANONYMOUS, now, test_mode=org.test_mode
        )
    return True


async def mark_verified(session: AsyncSession, org_id: uuid.UUID, user: User, channel: Channel) -> None:
    """The code came back: the email (or phone) is the user's (OIDC Core §5.1 ``*_verified``)."""
    column = "email_verified" if channel == "email" else "phone_verified"
    if not getattr(user, column):
        await users.mark_verified(session, org_id, user.id, column)
        await audit.record(
            session,
            org_id,
            actor=audit.Actor("user", str(user.id)),
            action=f"user.{channel}_verified",
            target_type="user",
            target_id=str(user.id),
        )


async def sign_up(session: AsyncSession, org_id: uuid.UUID, email: str, password_hash: str | None) -> User:
    """The account of a proven email (the code came back), its email verified; audited."""
    user = await users.create(session, org_id, email=normalize_email(email), password_hash=password_hash)
    await users.mark_verified(session, org_id, user.id, "email_verified")
    await audit.record(
        session,
        org_id,
        actor=audit.Actor("user", str(user.id)),
        action="user.signed_up",
        target_type="user",
        target_id=str(user.id),
        detail={"method": "email_otp"},
    )
    return user


async def new_password_hash(password: str) -> str:
    """Argon2id of a valid new password, in a worker thread (ValueError if it is not valid)."""
    return await anyio.to_thread.run_sync(hash_password, validate_password(password))


async def reset_password(
    session: AsyncSession, org_id: uuid.UUID, user: User, password_hash: str, now: datetime
) -> grant_revocation.Revoked:
    """Set the new password and end everything the user holds; ``password.reset`` (RISC)."""
    actor = audit.Actor("user", str(user.id))
    await users.set_password_hash(session, org_id, user.id, password_hash)
    revoked = await grant_revocation.revoke_user(
        session, org_id, user.id, now, actor=actor, reason="password_reset"
    )
    await events.raise_event(
        session,
        org_id,
        "password.reset",
        actor=actor,
        subject=events.user_subject(user.id),
        target_type="user",
        target_id=str(user.id),
        detail={
            "method": "email_otp",
            "families_revoked": revoked.families,
            "sessions_ended": revoked.sessions,
        },
    )
    return revoked


async def record_refused_number(db: Database, org_id: uuid.UUID, reason: str) -> None:
    """Audit a number refused for SMS (invalid, not a mobile, a blocked country): pumping shows here.

    The number itself is not recorded: it may be anyone's, and the reason is what matters."""
    async with db.tenant(org_id) as session:
        await audit.record(
            session,
            org_id,
            actor=ANONYMOUS,
            action="otp.destination_refused",
            target_type="sms",
            outcome="denied",
            detail={"reason": reason},
        )
