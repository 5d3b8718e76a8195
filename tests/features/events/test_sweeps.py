"""The expiry sweeps delete exactly the rows nobody can use any more, and say so in the audit log."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from namoid import sweeps
from namoid.events import webhooks
from namoid.outbound import OutboundPolicy
from namoid.services import Services
from namoid.storage.models import (
    AccessToken,
    AuthorizationCode,
    AuthorizationRequest,
    BrowserSession,
    Organization,
    OutboxEntry,
    RefreshFamily,
    RefreshToken,
    UsedAssertion,
    User,
    utcnow,
)
from namoid.storage.repos import (
    access_tokens,
    authorization_codes,
    authorization_requests,
    browser_sessions,
    event_outbox,
    refresh_tokens,
    used_assertions,
)
from namoid.tenancy import organizations
from tests.features.conftest import ADMIN, MakeUser
from tests.features.events.conftest import PUBLIC_HOOK, outbox, raise_test_event
from tests.features.token.conftest import audit_rows

NOW = utcnow()
DEAD = NOW - sweeps.GRACE - timedelta(minutes=1)  # expired, past the grace period
RECENT = NOW - timedelta(hours=1)  # expired, within the grace period
LIVE = NOW + timedelta(hours=1)


def _hash() -> str:
    return secrets.token_hex(32)


async def _interactions_codes_sessions(session: AsyncSession, org_id: uuid.UUID, user: User) -> None:
    for name, at in (("dead", DEAD), ("recent", RECENT), ("live", LIVE)):
        await authorization_requests.add(
            session,
            org_id,
            AuthorizationRequest(handle=f"req-{name}", client_id="app", params={}, expires_at=at),
        )
        await authorization_codes.add(
            session,
            org_id,
            AuthorizationCode(
                code_hash=_hash(),
                client_id=f"code-{name}",
                user_id=user.id,
                redirect_uri="https://rp.example/cb",
                scope="openid",
                code_challenge="x" * 43,
                auth_time=NOW,
                expires_at=at,
            ),
        )
        await used_assertions.record(session, org_id, "app", f"jti-{name}", at)
        await access_tokens.add(
            session,
            org_id,
            jti=f"at-{name}",
            client_id="app",
            user_id=user.id,
            scope="openid",
            code_id=None,
            family_id=None,
            created_at=NOW - timedelta(days=3),
            expires_at=at,
        )
    for sid, expires, ended in (
        ("expired", DEAD, None),
        ("ended-long-ago", LIVE, DEAD),
        ("ended-recently", LIVE, RECENT),
        ("live", LIVE, None),
    ):
        await browser_sessions.add(
            session,
            org_id,
            BrowserSession(
                token_hash=_hash(),
                sid=sid,
                user_id=user.id,
                csrf_secret="c",
                expires_at=expires,
                ended_at=ended,
            ),
        )


async def _refresh_families(session: AsyncSession, org_id: uuid.UUID, user: User) -> None:
    """Families named by their client_id; tokens by ``<family>/<state>`` in ``token_hash``."""
    families: dict[str, tuple[datetime, datetime | None, list[tuple[str, datetime, bool]]]] = {
        "expired": (DEAD, None, [("used", LIVE, True), ("unused", LIVE, False)]),
        "revoked": (LIVE, DEAD, [("unused", LIVE, False)]),
        "revoked-recently": (LIVE, RECENT, [("unused", LIVE, False)]),
        "live": (
            LIVE,
            None,
            [
                ("used-long-ago", DEAD, True),
                ("used-just-now", LIVE, True),
                ("idle", DEAD, False),
                ("idle-recently", RECENT, False),
                ("current", LIVE, False),
            ],
        ),
    }
    for name, (expires, revoked, tokens) in families.items():
        family = await refresh_tokens.start_family(
            session,
            org_id,
            RefreshFamily(
                client_id=name,
                user_id=user.id,
                scope="openid",
                auth_time=NOW,
                expires_at=expires,
                revoked_at=revoked,
            ),
        )
        for state, token_expires, used in tokens:
            token = await refresh_tokens.add(session, org_id, family.id, f"{name}/{state}", token_expires)
            if used:
                await refresh_tokens.consume(session, org_id, token.id, DEAD)
            if name == "live" and used:  # a kept successor response: its reuse window closed, or open
                closes = NOW + timedelta(seconds=10 if state == "used-just-now" else -1)
                await refresh_tokens.keep_successor(session, org_id, token.id, f"sealed/{state}", closes)


async def _outbox(services: Services, org: Organization, policy: OutboundPolicy) -> dict[int, str]:
    """Four outbox rows: delivered 31 and 29 days ago, failed 31 days ago, pending."""
    await webhooks.add(services.db, org.id, PUBLIC_HOOK, policy=policy, actor=ADMIN)
    for _ in range(4):
        await raise_test_event(services, org)
    old, young, failed, pending = (row.id for row in await outbox(services, org))
    async with services.db.tenant(org.id) as session:
        await event_outbox.mark_delivered(session, org.id, old, NOW - timedelta(days=31))
        await event_outbox.mark_delivered(session, org.id, young, NOW - timedelta(days=29))
        await event_outbox.mark_failed(session, org.id, failed, 0, NOW - timedelta(days=31), "gone")
    return {old: "delivered-31d", young: "delivered-29d", failed: "failed-31d", pending: "pending"}


async def _remaining(services: Services, org: Organization, column: InstrumentedAttribute[Any]) -> set[Any]:
    model: Any = column.class_
    async with services.db.tenant(org.id) as session:
        return set(await session.scalars(select(column).where(model.org_id == org.id)))


async def test_sweep_deletes_exactly_the_dead_rows(
    services: Services, org: Organization, make_user: MakeUser, policy: OutboundPolicy
) -> None:
    user = await make_user()
    async with services.db.tenant(org.id) as session:
        await _interactions_codes_sessions(session, org.id, user)
        await _refresh_families(session, org.id, user)
    outbox_rows = await _outbox(services, org, policy)

    counts = await sweeps.sweep(services.db, NOW, orgs=[org])

    assert counts == {
        "authorization_requests": 1,
        "authorization_codes": 1,
        "browser_sessions": 2,
        "used_assertions": 1,
        "access_tokens": 1,
        "refresh_tokens": 4,
        "refresh_families": 2,
        "refresh_tokens.successor_enc": 1,
        "event_outbox": 2,
    }
    assert await _remaining(services, org, AuthorizationRequest.handle) == {"req-recent", "req-live"}
    assert await _remaining(services, org, AuthorizationCode.client_id) == {"code-recent", "code-live"}
    assert await _remaining(services, org, UsedAssertion.jti) == {"jti-recent", "jti-live"}
    assert await _remaining(services, org, AccessToken.jti) == {"at-recent", "at-live"}
    assert await _remaining(services, org, BrowserSession.sid) == {"ended-recently", "live"}
    assert await _remaining(services, org, RefreshFamily.client_id) == {"revoked-recently", "live"}
    assert await _remaining(services, org, RefreshToken.token_hash) == {
        "revoked-recently/unused",
        "live/used-long-ago",  # a used token of a live family is how a replay is caught
        "live/used-just-now",
        "live/idle-recently",
        "live/current",
    }
    # The response kept for a closed window is destroyed; the open one stays for its window.
    assert await _remaining(services, org, RefreshToken.successor_enc) == {None, "sealed/used-just-now"}
    assert {outbox_rows[i] for i in await _remaining(services, org, OutboxEntry.id)} == {
        "delivered-29d",
        "pending",
    }
    [entry] = await audit_rows(services, org, "maintenance.swept")
    assert entry.actor_type == "system" and entry.target_id == str(org.id)
    assert {item["table"]: item["rows"] for item in entry.detail["deleted"]} == counts

    assert await sweeps.sweep(services.db, NOW, orgs=[org]) == {}
    assert len(await audit_rows(services, org, "maintenance.swept")) == 1  # nothing deleted, nothing said


async def test_sweep_keeps_within_the_grace_period_and_other_orgs(
    services: Services, org: Organization
) -> None:
    other = await organizations.create(
        services.db, services.keyring, f"other-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    for owner in (org, other):
        async with services.db.tenant(owner.id) as session:
            await authorization_requests.add(
                session,
                owner.id,
                AuthorizationRequest(
                    handle=f"req-{owner.slug}", client_id="app", params={}, expires_at=RECENT
                ),
            )
    assert await sweeps.sweep(services.db, NOW, orgs=[org]) == {}
    later = NOW + sweeps.GRACE
    assert await sweeps.sweep(services.db, later, orgs=[org]) == {"authorization_requests": 1}
    assert await _remaining(services, org, AuthorizationRequest.handle) == set()
    assert await _remaining(services, other, AuthorizationRequest.handle) == {f"req-{other.slug}"}
