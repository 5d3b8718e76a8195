"""Browser sessions (DESIGN.md §7): server-side rows behind a random cookie token.

A browser gets an anonymous session (for the CSRF secret of the login form) and, at every
login, a new one: a new token, a new ``sid``, the old row ended (OWASP session fixation).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.crypto.secrets import new_token, sha256_hex
from namoid.oauth import grant_revocation
from namoid.storage.models import BrowserSession, Organization, User
from namoid.storage.repos import authorization_codes, browser_sessions, refresh_tokens, users

#: An anonymous session only carries the login form's CSRF secret.
ANONYMOUS_TTL = timedelta(hours=1)
MAX_TOKEN_CHARS = 128


@dataclass(frozen=True, slots=True)
class Started:
    """A new session and its cookie token (shown only now; stored as SHA-256)."""

    row: BrowserSession
    token: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session of an active user."""

    browser: BrowserSession
    user: User
    auth_time: datetime


async def find(
    session: AsyncSession, org_id: uuid.UUID, token: str | None, now: datetime
) -> BrowserSession | None:
    """The live session behind a cookie token, if any."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    return await browser_sessions.find_live(session, org_id, sha256_hex(token), now)


async def find_by_sid(
    session: AsyncSession, org_id: uuid.UUID, sid: str, now: datetime
) -> BrowserSession | None:
    """The live session whose ID tokens carry ``sid`` (OIDC Front-Channel Logout §2), if any."""
    return await browser_sessions.find_live_by_sid(session, org_id, sid, now)


async def signed_in(
    session: AsyncSession, org_id: uuid.UUID, browser: BrowserSession | None
) -> SignedIn | None:
    """The session's user, if it has one that is still active (not disabled, not deleted)."""
    if browser is None or browser.user_id is None or browser.auth_time is None:
        return None
    user = await users.get(session, org_id, browser.user_id)
    if user is None or user.status != "active" or user.deleted_at is not None:
        return None
    return SignedIn(browser, user, browser.auth_time)


async def start(
    session: AsyncSession, org: Organization, *, user: User | None, amr: list[str], now: datetime
) -> Started:
    """A new session: anonymous, or signed in as ``user`` at ``now`` by the methods in ``amr``."""
    token = new_token(32)
    ttl = timedelta(seconds=org.session_ttl)
    row = BrowserSession(
        token_hash=sha256_hex(token),
        sid=new_token(24),
        user_id=user.id if user is not None else None,
        auth_time=now if user is not None else None,
        amr=amr,
        csrf_secret=new_token(32),
        created_at=now,
        expires_at=now + (ttl if user is not None else min(ttl, ANONYMOUS_TTL)),
    )
    await browser_sessions.add(session, org.id, row)
    return Started(row, token)


async def end(
    session: AsyncSession,
    org_id: uuid.UUID,
    browser: BrowserSession,
    now: datetime,
    *,
    actor: audit.Actor,
    reason: str,
) -> bool:
    """End the session and the grants bound to it (``grant_revocation.revoke_session``);
    False if it had already ended."""
    if not await browser_sessions.end(session, org_id, browser.id, now):
        return False
    if browser.user_id is not None:
        await grant_revocation.revoke_session(session, org_id, browser.sid, now, actor=actor, reason=reason)
    return True


async def replace(
    session: AsyncSession,
    org_id: uuid.UUID,
    previous: BrowserSession,
    successor: BrowserSession,
    now: datetime,
) -> None:
    """End ``previous`` for the new sign-in ``successor`` (no session fixation).

    The same user signing in again continues their login under a new ``sid``: the grants
    bound to the old session, and the codes not yet redeemed, move to the new one, so the
    next logout still ends them (and the codes stay redeemable). Another user's sign-in ends
    the previous user's session, and its bound grants with it.
    """
    if previous.user_id is not None and previous.user_id == successor.user_id:
        # Codes before the session: a redemption locks its code, then the session (the
        # authorization_code grant), so the same order here cannot deadlock with it.
        await authorization_codes.move_to_session(session, org_id, previous.sid, successor.sid)
        await browser_sessions.end(session, org_id, previous.id, now)
        await refresh_tokens.move_to_session(session, org_id, previous.sid, successor.sid)
        return
    actor = audit.Actor("user", str(successor.user_id))
    await end(session, org_id, previous, now, actor=actor, reason="another_user_signed_in")


async def live_of_user(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> Sequence[BrowserSession]:
    """The user's signed-in browsers (account console, issue 13)."""
    return await browser_sessions.live_of_user(session, org_id, user_id, now)


async def _sign_out(
    session: AsyncSession,
    org_id: uuid.UUID,
    browser: BrowserSession,
    now: datetime,
    *,
    actor: audit.Actor,
    reason: str,
) -> bool:
    if not await end(session, org_id, browser, now, actor=actor, reason=reason):
        return False
    await audit.record(
        session,
        org_id,
        actor=actor,
        action="session.ended",
        target_type="session",
        target_id=browser.sid,
        detail={"reason": reason},
    )
    return True


async def sign_out(
    session: AsyncSession,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    now: datetime,
    *,
    actor: audit.Actor,
) -> bool:
    """End one of the user's own live sessions (and its bound grants, ``end``), audited as
    ``session.ended``; False if the user has no such live session."""
    live = await browser_sessions.live_of_user(session, org_id, user_id, now)
    browser = next((row for row in live if row.id == session_id), None)
    if browser is None:
        return False
    return await _sign_out(session, org_id, browser, now, actor=actor, reason="signed_out_from_account")


async def sign_out_everywhere(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, now: datetime, *, actor: audit.Actor
) -> int:
    """End every live session of the user, each as ``sign_out``; returns how many."""
    ended = 0
    for browser in await browser_sessions.live_of_user(session, org_id, user_id, now):
        ended += await _sign_out(session, org_id, browser, now, actor=actor, reason="signed_out_everywhere")
    return ended
