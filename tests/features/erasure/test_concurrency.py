"""Concurrent delete and sign-in: the sign-in loses (issue 13), with real concurrency on PostgreSQL.

Two transactions really overlap here: one is held open while the other starts. Whichever
takes the user row first, no session or token of the deleted account is left alive: a
sign-in (or token issuance) that comes second waits and is refused; a delete that comes
second waits and then ends what the sign-in created.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from namoid.accounts import login as password_login
from namoid.accounts import users
from namoid.privacy import erasure
from namoid.services import Services
from namoid.storage.models import AccessToken, BrowserSession, Organization, RefreshFamily, User, utcnow
from tests.conftest import POSTGRES_ONLY
from tests.features.authorize.conftest import Flow
from tests.features.conftest import ADMIN
from tests.features.revocation.conftest import browser_code, browser_tokens, redeem, refresh
from tests.features.token.conftest import post

pytestmark = POSTGRES_ONLY
#: Long enough for a transaction that is not blocked to finish many times over.
BLOCKED = 0.5


async def _live(services: Services, org: Organization, user_id: uuid.UUID) -> dict[str, int]:
    """The user's sessions, refresh families and access tokens that are still alive."""
    async with services.db.tenant(org.id) as session:

        async def count(model: type, *where: object) -> int:
            query = select(func.count()).select_from(model).where(model.org_id == org.id, *where)  # type: ignore[attr-defined]
            return int(await session.scalar(query) or 0)

        return {
            "sessions": await count(
                BrowserSession, BrowserSession.user_id == user_id, BrowserSession.ended_at.is_(None)
            ),
            "families": await count(
                RefreshFamily, RefreshFamily.user_id == user_id, RefreshFamily.revoked_at.is_(None)
            ),
            "access": await count(
                AccessToken, AccessToken.user_id == user_id, AccessToken.revoked_at.is_(None)
            ),
        }


async def _sign_in(services: Services, org: Organization, user: User) -> None:
    async with services.db.tenant(org.id) as session:
        await password_login.sign_in(session, org, user, previous=None, client_id="rp", now=utcnow())


async def test_a_sign_in_waiting_on_a_delete_loses(
    services: Services, org: Organization, subject: User
) -> None:
    """The password was checked (the user read as active), then the delete took the row first."""
    async with services.db.tenant(org.id) as session:
        held = await session.get(User, subject.id)
        assert held is not None
        await users.soft_delete(session, org.id, held, ADMIN, None)
        signing_in = asyncio.create_task(_sign_in(services, org, subject))
        await asyncio.sleep(BLOCKED)
        assert not signing_in.done()  # it waits for the deletion's row lock
    with pytest.raises(password_login.AccountInactive):
        await signing_in
    assert await _live(services, org, subject.id) == {"sessions": 0, "families": 0, "access": 0}


async def test_a_delete_waiting_on_a_sign_in_ends_its_session(
    services: Services, org: Organization, subject: User
) -> None:
    async with services.db.tenant(org.id) as session:
        await password_login.sign_in(session, org, subject, previous=None, client_id="rp", now=utcnow())
        deleting = asyncio.create_task(erasure.delete_account(services, org.id, subject.id, ADMIN))
        await asyncio.sleep(BLOCKED)
        assert not deleting.done()  # it waits for the sign-in's hold on the user row
    await deleting
    assert await _live(services, org, subject.id) == {"sessions": 0, "families": 0, "access": 0}


async def test_a_code_redeemed_while_the_delete_runs_yields_nothing_alive(
    erasure_flow: Flow, person: object
) -> None:
    """The token endpoint holds the user too: redeem and refresh racing the delete, over HTTP."""
    flow, services, org = erasure_flow, erasure_flow.services, erasure_flow.org
    tokens = await browser_tokens(flow, flow.rp, "openid offline_access")
    code = await browser_code(flow, flow.rp, "openid offline_access")
    redeemed, refreshed, _ = await asyncio.gather(
        redeem(flow, flow.rp, code),
        refresh(flow.http, org, flow.rp, tokens["refresh_token"]),
        erasure.delete_account(services, org.id, flow.user.id, ADMIN),
    )
    assert await _live(services, org, flow.user.id) == {"sessions": 0, "families": 0, "access": 0}
    for answer in (redeemed, refreshed):
        assert answer.status_code in (200, 400), answer.text
        if answer.status_code == 200:  # it came first: what it issued was revoked by the delete
            introspected = await post(
                flow.http, org, "introspect", {"token": answer.json()["access_token"]}, flow.rp
            )
            assert introspected.json() == {"active": False}


async def test_a_password_sign_in_racing_the_delete_leaves_no_session(
    erasure_flow: Flow, http: httpx.AsyncClient, person: object
) -> None:
    flow, services, org = erasure_flow, erasure_flow.services, erasure_flow.org
    page = await flow.follow(await flow.authorize())
    answer, _ = await asyncio.gather(
        flow.login(page), erasure.delete_account(services, org.id, flow.user.id, ADMIN)
    )
    assert answer.status_code in (200, 303)
    assert await _live(services, org, flow.user.id) == {"sessions": 0, "families": 0, "access": 0}
