"""Replays raise exactly one security event; every rotation is audited (issue 4: events, audit)."""

from __future__ import annotations

import asyncio

import httpx

from namoid.crypto.secrets import sha256_hex
from namoid.services import Services
from namoid.storage.models import Organization, SecurityEvent, User
from namoid.storage.repos import refresh_tokens, security_events
from tests.features.conftest import MakeClient, RegisteredClient
from tests.features.token.conftest import (
    age_first_use,
    audit_rows,
    code_tokens,
    exchange,
    issue_code,
    post,
    refresh,
)

SCOPE = "openid offline_access"


async def _events(services: Services, org: Organization, name: str) -> list[SecurityEvent]:
    async with services.db.tenant(org.id) as session:
        return [e for e in await security_events.list_recent(session, org.id, limit=500) if e.name == name]


async def _family_id(services: Services, org: Organization, token: str) -> str:
    async with services.db.tenant(org.id) as session:
        found = await refresh_tokens.find(session, org.id, sha256_hex(token))
    assert found is not None
    return str(found[1].id)


async def test_each_rotation_is_audited_with_its_family(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    token = (await code_tokens(http, services, org, web_app, user))["refresh_token"]
    family = await _family_id(services, org, token)
    for _ in range(2):
        response = await refresh(http, org, web_app, token)
        assert response.status_code == 200, response.text
        token = response.json()["refresh_token"]
    rows = await audit_rows(services, org, "refresh_token.rotated")
    assert len(rows) == 2
    assert all(
        (r.target_type, r.target_id, r.detail)
        == ("refresh_family", family, {"family": family, "client_id": web_app.client_id})
        for r in rows
    )


async def test_concurrent_replays_raise_exactly_one_event(
    http: httpx.AsyncClient, services: Services, org: Organization, spa: RegisteredClient, user: User
) -> None:
    first = await code_tokens(http, services, org, spa, user)
    assert (await refresh(http, org, spa, first["refresh_token"])).status_code == 200
    await age_first_use(services, org, first["refresh_token"], 60)  # past any reuse window
    replays = await asyncio.gather(*(refresh(http, org, spa, first["refresh_token"]) for _ in range(5)))
    assert {(r.status_code, r.json()["error"]) for r in replays} == {(400, "invalid_grant")}

    family = await _family_id(services, org, first["refresh_token"])
    [event] = await _events(services, org, "refresh_token.replayed")
    assert event.subject == {"format": "iss_sub", "sub": str(user.id)}
    assert event.payload["family"] == family and event.payload["client_id"] == spa.client_id
    assert event.payload["user"] == str(user.id) and event.payload["revoked_access"] == 2
    assert event.payload["ip_address"] == "203.0.113.7" and event.payload["user_agent"]
    [entry] = await audit_rows(services, org, "refresh_token.replayed")
    assert entry.target_id == family and entry.detail["family"] == family and entry.outcome == "denied"


async def test_replays_of_a_revoked_family_raise_nothing(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    first = await code_tokens(http, services, org, web_app, user)
    second = (await refresh(http, org, web_app, first["refresh_token"])).json()
    assert (await post(http, org, "revoke", {"token": second["refresh_token"]}, web_app)).status_code == 200
    for _ in range(3):
        response = await refresh(http, org, web_app, first["refresh_token"])
        assert response.json()["error"] == "invalid_grant"
    assert await _events(services, org, "refresh_token.replayed") == []
    assert await audit_rows(services, org, "refresh_token.replayed") == []


async def test_a_race_for_one_token_ends_the_family_with_one_event(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient, user: User
) -> None:
    """Without a reuse window (RFC 9700 §4.14.2) the loser is a replay: the winner's tokens die too."""
    client = await make_client(
        grant_types=["authorization_code", "refresh_token"], scopes=SCOPE.split(" "), refresh_reuse_window=0
    )
    first = await code_tokens(http, services, org, client, user, scope=SCOPE)
    results = await asyncio.gather(*(refresh(http, org, client, first["refresh_token"]) for _ in range(2)))
    assert sorted(r.status_code for r in results) == [200, 400]
    winner = next(r.json() for r in results if r.status_code == 200)
    assert (await refresh(http, org, client, winner["refresh_token"])).json()["error"] == "invalid_grant"
    userinfo = await http.get(
        f"/o/{org.slug}/userinfo", headers={"Authorization": f"Bearer {winner['access_token']}"}
    )
    assert userinfo.status_code == 401
    assert len(await _events(services, org, "refresh_token.replayed")) == 1


async def test_code_replay_raises_one_event(
    http: httpx.AsyncClient, services: Services, org: Organization, web_app: RegisteredClient, user: User
) -> None:
    code, verifier = await issue_code(services, org, web_app.client_id, user, scope=SCOPE)
    issued = await exchange(http, org, web_app, code, verifier)
    assert issued.status_code == 200
    replays = await asyncio.gather(*(exchange(http, org, web_app, code, verifier) for _ in range(3)))
    assert {r.json()["error"] for r in replays} == {"invalid_grant"}
    assert (await exchange(http, org, web_app, code, verifier)).json()["error"] == "invalid_grant"

    [event] = await _events(services, org, "authorization_code.replayed")
    assert event.subject == {"format": "iss_sub", "sub": str(user.id)}
    family = await _family_id(services, org, issued.json()["refresh_token"])
    assert event.payload["families"] == [family] and event.payload["revoked_access"] == 1
    assert event.payload["client_id"] == web_app.client_id
    assert len(await audit_rows(services, org, "authorization_code.replayed")) == 1
    assert (await refresh(http, org, web_app, issued.json()["refresh_token"])).json()[
        "error"
    ] == "invalid_grant"
