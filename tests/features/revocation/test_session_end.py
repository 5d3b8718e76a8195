"""A browser session's end ends the refresh tokens bound to it (OIDC Core §11), and
``offline_access`` ones only for clients whose policy is ``end``; and the codes it approved
that were not redeemed yet (issue 10 §4.2)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select

from namoid.accounts import sessions
from namoid.crypto.secrets import sha256_hex
from namoid.services import Services
from namoid.storage.models import AccessToken, BrowserSession, Organization, RefreshFamily, utcnow
from namoid.storage.repos import authorization_codes, browser_sessions, refresh_tokens
from tests.features.authorize.conftest import Flow, form_inputs
from tests.features.conftest import MakeClient, MakeUser
from tests.features.revocation.conftest import (
    browser_code,
    browser_tokens,
    redeem,
    refresh,
    refreshing_client,
    userinfo_status,
)
from tests.features.token.conftest import audit_rows, issue_code, sign_in

OFFLINE = "openid offline_access"


async def _log_out(flow: Flow) -> None:
    page = await flow.http.get(f"{flow.base}/logout")
    assert page.status_code == 200, page.text
    done = await flow.http.post(f"{flow.base}/logout", data=form_inputs(page.text) | {"decision": "logout"})
    assert done.status_code == 200 and await flow.signed_in_sessions() == 0


async def _live_sid(flow: Flow) -> str:
    async with flow.services.db.tenant(flow.org.id) as session:
        sid = await session.scalar(
            select(BrowserSession.sid).where(
                BrowserSession.org_id == flow.org.id,
                BrowserSession.user_id.is_not(None),
                BrowserSession.ended_at.is_(None),
            )
        )
    assert sid is not None
    return sid


async def _alive(http: httpx.AsyncClient, flow: Flow, rp: object, tokens: dict[str, str]) -> bool:
    refreshed = await refresh(http, flow.org, rp, tokens["refresh_token"])  # type: ignore[arg-type]
    return refreshed.status_code == 200


async def test_logout_ends_session_bound_and_end_policy_families(flow: Flow, make_client: MakeClient) -> None:
    bound_rp = await refreshing_client(make_client, refresh_tokens=True)
    keeping_rp = await refreshing_client(make_client)
    ending_rp = await refreshing_client(make_client, offline_access_on_logout="end")
    bound = await browser_tokens(flow, bound_rp, "openid profile")
    keeping = await browser_tokens(flow, keeping_rp, OFFLINE)
    ending = await browser_tokens(flow, ending_rp, OFFLINE)
    sid = await _live_sid(flow)

    await _log_out(flow)

    assert await userinfo_status(flow.http, flow.org, bound["access_token"]) == 401
    assert await userinfo_status(flow.http, flow.org, ending["access_token"]) == 401
    assert await userinfo_status(flow.http, flow.org, keeping["access_token"]) == 200
    assert not await _alive(flow.http, flow, bound_rp, bound)
    assert not await _alive(flow.http, flow, ending_rp, ending)
    assert await _alive(flow.http, flow, keeping_rp, keeping)
    [entry] = await audit_rows(flow.services, flow.org, "grants.revoked")
    assert (entry.target_type, entry.target_id) == ("session", sid)
    assert entry.detail == {"reason": "logout", "families": 2, "access_revoked": 2, "sessions_ended": 0}


async def test_signing_in_again_keeps_the_grants_bound_to_the_login(
    flow: Flow, make_client: MakeClient
) -> None:
    """A new sid at re-authentication (no fixation) continues the login: the next logout still ends them."""
    bound_rp = await refreshing_client(make_client, refresh_tokens=True)
    first = await browser_tokens(flow, bound_rp, "openid")
    old_sid = await _live_sid(flow)
    second = await browser_tokens(flow, bound_rp, "openid", prompt="login")
    assert await _live_sid(flow) != old_sid
    assert await _alive(flow.http, flow, bound_rp, first) and await _alive(flow.http, flow, bound_rp, second)
    assert await audit_rows(flow.services, flow.org, "grants.revoked") == []

    await _log_out(flow)
    second_refreshed = await refresh(flow.http, flow.org, bound_rp, second["refresh_token"])
    assert second_refreshed.json()["error"] == "invalid_grant"
    [entry] = await audit_rows(flow.services, flow.org, "grants.revoked")
    assert entry.detail["families"] == 2


async def test_another_user_signing_in_ends_the_previous_users_bound_grants(
    flow: Flow, make_client: MakeClient, make_user: MakeUser
) -> None:
    bound_rp = await refreshing_client(make_client, refresh_tokens=True)
    keeping_rp = await refreshing_client(make_client)
    bound = await browser_tokens(flow, bound_rp, "openid")
    keeping = await browser_tokens(flow, keeping_rp, OFFLINE)
    other = await make_user()
    login_page = await flow.follow(await flow.authorize(prompt="login"))
    assert (await flow.login(login_page, email=other.email)).status_code == 303

    assert not await _alive(flow.http, flow, bound_rp, bound)
    assert await _alive(flow.http, flow, keeping_rp, keeping)
    [entry] = await audit_rows(flow.services, flow.org, "grants.revoked")
    assert entry.detail["reason"] == "another_user_signed_in" and entry.actor_id == str(other.id)


async def test_a_code_approved_before_a_logout_is_refused_after_it_and_spent(
    flow: Flow, make_client: MakeClient
) -> None:
    """Else it would start a refresh family bound to a session that is over, which no logout ends."""
    for scope in ("openid", OFFLINE):
        rp = await refreshing_client(make_client, refresh_tokens=True)
        code = await browser_code(flow, rp, scope)
        await _log_out(flow)
        for _ in range(2):  # refused, and spent: it never works later either
            refused = await redeem(flow, rp, code)
            assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        row = await flow.code_row(code)
        assert row is not None and row.used_at is not None
    assert await flow.count(RefreshFamily) == 0 and await flow.count(AccessToken) == 0
    refusals = await audit_rows(flow.services, flow.org, "token.refused")
    assert [r.detail["reason"] for r in refusals].count("the authorization code's session has ended") == 2


async def test_a_code_follows_its_user_into_the_next_session(flow: Flow, make_client: MakeClient) -> None:
    """Signing in again (a new sid, no fixation) moves the unredeemed code along with the grants."""
    rp = await refreshing_client(make_client, refresh_tokens=True)
    code = await browser_code(flow, rp, "openid")
    old_sid = await _live_sid(flow)
    login_page = await flow.follow(await flow.authorize(prompt="login"))
    assert (await flow.login(login_page)).status_code == 303
    new_sid = await _live_sid(flow)
    assert new_sid != old_sid
    issued = await redeem(flow, rp, code)
    assert issued.status_code == 200, issued.text
    async with flow.services.db.tenant(flow.org.id) as session:
        sids = list(
            await session.scalars(select(RefreshFamily.sid).where(RefreshFamily.org_id == flow.org.id))
        )
    assert sids == [new_sid]  # bound to the live session, so that its logout ends the family
    await _log_out(flow)
    assert not await _alive(flow.http, flow, rp, issued.json())


async def test_another_users_sign_in_refuses_the_previous_users_code(
    flow: Flow, make_client: MakeClient, make_user: MakeUser
) -> None:
    rp = await refreshing_client(make_client, refresh_tokens=True)
    code = await browser_code(flow, rp, "openid")
    other = await make_user()
    login_page = await flow.follow(await flow.authorize(prompt="login"))
    assert (await flow.login(login_page, email=other.email)).status_code == 303
    refused = await redeem(flow, rp, code)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


async def test_a_redemption_racing_a_same_user_sign_in_neither_deadlocks_nor_loses_the_family(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    """The redemption holds its code, then its session; the sign-in that replaces the session
    waits for the code first, so it neither deadlocks with the redemption nor misses its family."""
    user = await make_user()
    old = await sign_in(services, org, user)
    code, _ = await issue_code(services, org, "some-client", user, sid=old.sid)

    async def sign_in_again() -> str:
        async with services.db.tenant(org.id) as session:
            new = await sessions.start(session, org, user=user, amr=["pwd"], now=utcnow())
            await sessions.replace(session, org.id, old, new.row, utcnow())
            return new.row.sid

    async with services.db.tenant(org.id) as redeeming:
        row = await authorization_codes.find(redeeming, org.id, sha256_hex(code))
        assert row is not None and await authorization_codes.consume(redeeming, org.id, row.id, utcnow())
        replacing = asyncio.create_task(sign_in_again())
        await asyncio.sleep(0.5)  # the sign-in now waits for this transaction
        assert await browser_sessions.hold_live(redeeming, org.id, old.sid, utcnow())
        await refresh_tokens.start_family(
            redeeming,
            org.id,
            RefreshFamily(
                client_id="some-client",
                user_id=user.id,
                scope="openid",
                sid=old.sid,
                auth_time=utcnow(),
                expires_at=utcnow() + timedelta(hours=1),
            ),
        )
    new_sid = await replacing
    async with services.db.tenant(org.id) as session:
        sids = list(await session.scalars(select(RefreshFamily.sid).where(RefreshFamily.org_id == org.id)))
    assert sids == [new_sid]  # the family the redemption bound to the old session moved along
