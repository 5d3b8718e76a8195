"""Revocation links, in one place: what dies with a user, a client or a browser session.

- A user disabled or deleted, or their password reset or changed: every refresh family and
  access token of the user, at every client, and every browser session of the user (a change
  made in the account console keeps the session it was made in).
- A client disabled: every refresh family and access token issued to it.
- A browser session ended (RP-initiated logout, another user signing in in that browser):
  the refresh families authorized in it without ``offline_access``, which are bound to the
  session (OIDC Core §11: ``offline_access`` asks for access "even when the End-User is not
  present"), and those with ``offline_access`` whose client's ``offline_access_on_logout``
  policy is ``end``; with each family, every access token issued from it.

Each call that revokes anything writes one ``grants.revoked`` audit entry (what, how many,
why) in the caller's transaction. The security event (``user.disabled``, ``client.disabled``)
is the caller's: it reports the change, this module only its consequences. A logout raises
no ``session.revoked`` event: it is the user's routine action, not a signal to push to every
subscriber; its audit entries record it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.storage.repos import access_tokens, browser_sessions, refresh_tokens

#: The client policy that ends ``offline_access`` grants at logout too.
END_OFFLINE_ON_LOGOUT = "end"
OFFLINE_ACCESS_POLICIES = ("keep", END_OFFLINE_ON_LOGOUT)


@dataclass(frozen=True, slots=True)
class Revoked:
    """What one revocation ended."""

    families: int = 0
    access_tokens: int = 0
    sessions: int = 0


def ends_with_session(scope: str, offline_access_on_logout: str) -> bool:
    """Whether a family of ``scope`` ends when its browser session does (OIDC Core §11)."""
    return "offline_access" not in scope.split(" ") or offline_access_on_logout == END_OFFLINE_ON_LOGOUT


async def _record(
    session: AsyncSession,
    org_id: uuid.UUID,
    revoked: Revoked,
    *,
    actor: audit.Actor,
    target: tuple[str, str],
    reason: str,
) -> Revoked:
    if revoked != Revoked():
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="grants.revoked",
            target_type=target[0],
            target_id=target[1],
            detail={
                "reason": reason,
                "families": revoked.families,
                "access_revoked": revoked.access_tokens,
                "sessions_ended": revoked.sessions,
            },
        )
    return revoked


async def revoke_user(
    session: AsyncSession,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    *,
    actor: audit.Actor,
    reason: str,
    keep_sid: str | None = None,
) -> Revoked:
    """End everything a user holds: refresh families, access tokens and browser sessions.

    ``keep_sid``: the browser session in which the user changed their own password stays
    signed in; every grant, even one authorized in that session, ends all the same.
    """
    families = await refresh_tokens.revoke_families_of_user(session, org_id, user_id, now, reason)
    revoked = Revoked(
        families=len(families),
        access_tokens=await access_tokens.revoke_for_user(session, org_id, user_id, now),
        sessions=await browser_sessions.end_for_user(session, org_id, user_id, now, keep_sid),
    )
    return await _record(session, org_id, revoked, actor=actor, target=("user", str(user_id)), reason=reason)


async def revoke_client(
    session: AsyncSession,
    org_id: uuid.UUID,
    client_id: str,
    now: datetime,
    *,
    actor: audit.Actor,
    reason: str,
) -> Revoked:
    """End every refresh family and access token issued to a client."""
    families = await refresh_tokens.revoke_families_of_client(session, org_id, client_id, now, reason)
    revoked = Revoked(
        families=len(families),
        access_tokens=await access_tokens.revoke_for_client(session, org_id, client_id, now),
    )
    return await _record(session, org_id, revoked, actor=actor, target=("client", client_id), reason=reason)


async def revoke_session(
    session: AsyncSession,
    org_id: uuid.UUID,
    sid: str,
    now: datetime,
    *,
    actor: audit.Actor,
    reason: str,
) -> Revoked:
    """End the families bound to browser session ``sid`` (see the module docstring), which ended."""
    live = await refresh_tokens.live_families_of_session(session, org_id, sid)
    ending = [family.id for family, policy in live if ends_with_session(family.scope, policy)]
    families = await refresh_tokens.revoke_families(session, org_id, ending, now, reason)
    revoked = Revoked(
        families=len(families),
        access_tokens=await access_tokens.revoke_for_families(session, org_id, families, now),
    )
    return await _record(session, org_id, revoked, actor=actor, target=("session", sid), reason=reason)
