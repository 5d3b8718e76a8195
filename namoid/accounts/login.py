"""Password login: Argon2id (DESIGN.md §3) with one answer for every failure.

An unknown email, a wrong password and a disabled account fail alike, and each path costs
one Argon2id verification (an unknown user is checked against a dummy hash), so neither the
message nor the timing tells which accounts exist (OWASP Authentication Cheat Sheet).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, events, metrics
from namoid.accounts import sessions
from namoid.accounts.users import normalize_email
from namoid.crypto.passwords import MAX_PASSWORD_CHARS, verify_password
from namoid.storage.db import Database
from namoid.storage.models import BrowserSession, Organization, User
from namoid.storage.repos import users

Failure = Literal["unknown_user", "bad_password", "disabled"]
#: OIDC amr value for a password (RFC 8176 §2).
PASSWORD_AMR = "pwd"  # noqa: S105 (a method name, not a password)


class AccountInactive(Exception):
    """The account was disabled or deleted before the sign-in could complete: no session."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """The account an email names (None if unknown) and why the attempt failed (None: it did not)."""

    user: User | None
    failure: Failure | None


async def check_password(db: Database, org_id: uuid.UUID, email: str, password: str) -> Attempt:
    """Look the user up by normalized email and verify the password in a worker thread."""
    try:
        normalized: str | None = normalize_email(email)
    except ValueError:
        normalized = None
    user = None
    if normalized is not None:
        async with db.tenant(org_id) as session:
            user = await users.get_by_email(session, org_id, normalized)
    candidate = password if len(password) <= MAX_PASSWORD_CHARS else ""
    stored = user.password_hash if user is not None and candidate else None
    matched = await anyio.to_thread.run_sync(verify_password, stored, candidate)
    if user is None:
        return Attempt(None, "unknown_user")
    if not matched:
        return Attempt(user, "bad_password")
    return Attempt(user, None if user.status == "active" else "disabled")


async def _record(
    session: AsyncSession,
    org_id: uuid.UUID,
    attempt: Attempt,
    action: str,
    outcome: Literal["failure", "denied"],
    detail: dict[str, object],
) -> None:
    user_id = str(attempt.user.id) if attempt.user is not None else None
    await audit.record(
        session,
        org_id,
        actor=audit.Actor("user", user_id),
        action=action,
        target_type="user",
        target_id=user_id,
        outcome=outcome,
        detail=detail | {"method": PASSWORD_AMR},
    )


async def record_failure(session: AsyncSession, org_id: uuid.UUID, attempt: Attempt, client_id: str) -> None:
    await _record(
        session,
        org_id,
        attempt,
        "login.failed",
        "failure",
        {"reason": attempt.failure, "client_id": client_id},
    )
    metrics.SIGN_INS.labels("failed", PASSWORD_AMR).inc()


async def record_lockout(
    session: AsyncSession,
    org_id: uuid.UUID,
    attempt: Attempt,
    account: str,
    client_id: str,
    policies: list[str],
) -> None:
    """The ``login.bruteforce_suspected`` security event, once when a lockout starts.

    Its subject is the user, or for an unknown email the account key (an HMAC, never the email).
    """
    user_id = str(attempt.user.id) if attempt.user is not None else None
    await events.raise_event(
        session,
        org_id,
        "login.bruteforce_suspected",
        actor=audit.Actor("user", user_id),
        subject=events.user_subject(user_id) if user_id else events.opaque_subject(f"account:{account}"),
        target_type="user",
        target_id=user_id,
        outcome="denied",
        detail={"policies": policies, "client_id": client_id, "method": PASSWORD_AMR},
    )
    metrics.SIGN_INS.labels("locked", PASSWORD_AMR).inc()


async def sign_in(
    session: AsyncSession,
    org: Organization,
    user: User,
    *,
    previous: BrowserSession | None,
    client_id: str,
    now: datetime,
    amr: tuple[str, ...] = (PASSWORD_AMR,),
) -> sessions.Started:
    """End the browser's previous session and start a new one for ``user`` (no fixation); audited.

    ``amr`` names the methods used (RFC 8176 §2): ``pwd``, ``otp``, ``sms``, ``mfa``, or ``fed``
    through a provider. The user row is read again, held, in this transaction: an account
    deleted or disabled since the password or code was checked gets no session
    (AccountInactive), and a deletion that comes after waits, then ends this session (issue 13:
    of a concurrent delete and sign-in, the sign-in loses)."""
    if await users.hold_active(session, org.id, user.id) is None:
        raise AccountInactive("the account is no longer active")
    started = await sessions.start(session, org, user=user, amr=list(amr), now=now)
    if previous is not None:
        await sessions.replace(session, org.id, previous, started.row, now)
    await audit.record(
        session,
        org.id,
        actor=audit.Actor("user", str(user.id)),
        action="login.succeeded",
        target_type="session",
        target_id=started.row.sid,
        detail={"client_id": client_id, "method": " ".join(amr)},
    )
    metrics.SIGN_INS.labels("succeeded", "+".join(amr)).inc()
    return started
