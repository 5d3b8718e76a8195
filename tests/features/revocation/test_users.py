"""Disabling or deleting a user ends every token and session they hold; events and audit say so."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from namoid import audit
from namoid.accounts import users
from namoid.storage.db import Database
from namoid.storage.models import User
from tests.features.authorize.conftest import Flow, query
from tests.features.conftest import ADMIN, MakeClient, MakeUser, RegisteredClient
from tests.features.revocation.conftest import (
    browser_tokens,
    events_named,
    introspect,
    refresh,
    refreshing_client,
    userinfo_status,
)
from tests.features.token.conftest import audit_rows

OFFLINE = "openid offline_access"


async def _newest_tokens(flow: Flow, make_client: MakeClient) -> tuple[RegisteredClient, dict[str, str]]:
    """A signed-in browser, and the newest (rotated) tokens of an RP: the ones an attacker would use."""
    rp = await refreshing_client(make_client)
    first = await browser_tokens(flow, rp, OFFLINE)
    rotated = await refresh(flow.http, flow.org, rp, first["refresh_token"])
    assert rotated.status_code == 200
    return rp, rotated.json()


async def _assert_dead(
    flow: Flow, rp: RegisteredClient, inspector: RegisteredClient, tokens: dict[str, str]
) -> None:
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert await introspect(flow.http, flow.org, inspector, token) == {"active": False}
    assert await userinfo_status(flow.http, flow.org, tokens["access_token"]) == 401
    refreshed = await refresh(flow.http, flow.org, rp, tokens["refresh_token"])
    assert refreshed.json()["error"] == "invalid_grant"


Ending = Callable[[Database, uuid.UUID, str, audit.Actor, str | None], Awaitable[User]]


@pytest.mark.parametrize(("act", "event"), [(users.disable, "user.disabled"), (users.delete, "user.deleted")])
async def test_disable_and_delete_end_everything(
    flow: Flow, make_client: MakeClient, inspector: RegisteredClient, act: Ending, event: str
) -> None:
    rp, tokens = await _newest_tokens(flow, make_client)
    assert (await introspect(flow.http, flow.org, inspector, tokens["access_token"]))["active"] is True

    await act(flow.services.db, flow.org.id, flow.user.email, ADMIN, "left the company")

    await _assert_dead(flow, rp, inspector, tokens)
    assert await flow.signed_in_sessions() == 0
    assert query((await flow.authorize(prompt="none")).headers["location"])["error"] == "login_required"
    [raised] = await events_named(flow.services, flow.org, event)
    assert raised.subject == {"format": "iss_sub", "sub": str(flow.user.id)}
    assert raised.payload["comment"] == "left the company"
    assert (
        raised.payload["families"],
        raised.payload["access_revoked"],
        raised.payload["sessions_ended"],
    ) == (1, 2, 1)
    [entry] = await audit_rows(flow.services, flow.org, "grants.revoked")
    assert (entry.target_type, entry.target_id, entry.actor_id) == ("user", str(flow.user.id), ADMIN.id)
    assert entry.detail == {
        "reason": event.replace(".", "_"),
        "families": 1,
        "access_revoked": 2,
        "sessions_ended": 1,
    }
    assert len(await audit_rows(flow.services, flow.org, event)) == 1


async def test_a_disabled_user_cannot_sign_in_until_enabled(
    flow: Flow, make_client: MakeClient, inspector: RegisteredClient
) -> None:
    rp, tokens = await _newest_tokens(flow, make_client)
    await users.disable(flow.services.db, flow.org.id, flow.user.email, ADMIN)
    login_page = await flow.follow(await flow.authorize())
    refused = await flow.login(login_page)
    assert refused.status_code == 200 and "do not match an account" in refused.text

    await users.enable(flow.services.db, flow.org.id, flow.user.email, ADMIN)
    assert "code" in await flow.sign_in_and_allow()
    await _assert_dead(flow, rp, inspector, tokens)  # what was revoked stays revoked
    [enabled] = await events_named(flow.services, flow.org, "user.enabled")
    assert enabled.subject["sub"] == str(flow.user.id)


async def test_delete_is_a_soft_delete(flow: Flow) -> None:
    await users.disable(flow.services.db, flow.org.id, flow.user.email, ADMIN)
    await users.delete(flow.services.db, flow.org.id, flow.user.email, ADMIN, "  erasure request  ")
    async with flow.services.db.tenant(flow.org.id) as session:
        row = await session.get(User, flow.user.id)
    assert row is not None and row.status == "deleted" and row.deleted_at is not None
    assert row.deletion_reason == "erasure request"
    assert flow.user.email not in [u.email for u in await users.list_active(flow.services.db, flow.org.id)]
    with pytest.raises(LookupError, match="no user"):
        await users.enable(flow.services.db, flow.org.id, flow.user.email, ADMIN)
    login_page = await flow.follow(await flow.authorize())
    assert "do not match an account" in (await flow.login(login_page)).text


async def test_refusals_change_nothing(flow: Flow) -> None:
    with pytest.raises(ValueError, match="not disabled"):
        await users.enable(flow.services.db, flow.org.id, flow.user.email, ADMIN)
    with pytest.raises(ValueError, match="reason must be"):
        await users.disable(flow.services.db, flow.org.id, flow.user.email, ADMIN, "x" * 201)
    with pytest.raises(LookupError, match="no user"):
        await users.delete(flow.services.db, flow.org.id, "nobody@example.com", ADMIN)
    await users.disable(flow.services.db, flow.org.id, flow.user.email, ADMIN)
    with pytest.raises(ValueError, match="already disabled"):
        await users.disable(flow.services.db, flow.org.id, flow.user.email, ADMIN)
    assert len(await events_named(flow.services, flow.org, "user.disabled")) == 1


async def test_only_the_users_own_grants_end(
    flow: Flow, make_client: MakeClient, make_user: MakeUser
) -> None:
    rp = await refreshing_client(make_client)
    other = Flow(flow.http, flow.services, flow.org, rp, await make_user(), flow.verifier, flow.challenge)
    theirs = await browser_tokens(other, rp, OFFLINE)
    flow.http.cookies.clear()
    await browser_tokens(flow, rp, OFFLINE)
    await users.disable(flow.services.db, flow.org.id, flow.user.email, ADMIN)
    assert await userinfo_status(flow.http, flow.org, theirs["access_token"]) == 200
    assert (await refresh(flow.http, flow.org, rp, theirs["refresh_token"])).status_code == 200
