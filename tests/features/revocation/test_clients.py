"""Disabling a client revokes everything issued to it and refuses it at every endpoint."""

from __future__ import annotations

import httpx
import pytest

from namoid.oauth import client_registry
from namoid.services import Services
from namoid.storage.models import Organization, User
from tests.features.authorize.conftest import Flow
from tests.features.conftest import ADMIN, MakeClient, RegisteredClient
from tests.features.revocation.conftest import (
    browser_tokens,
    events_named,
    introspect,
    refresh,
    refreshing_client,
    userinfo_status,
)
from tests.features.token.conftest import audit_rows, exchange, issue_code, post

OFFLINE = "openid offline_access"


async def _client_credentials(
    http: httpx.AsyncClient, org: Organization, client: RegisteredClient
) -> httpx.Response:
    return await post(http, org, "token", {"grant_type": "client_credentials"}, client)


async def test_disabling_a_client_revokes_its_tokens_only(
    flow: Flow, make_client: MakeClient, inspector: RegisteredClient
) -> None:
    rp = await refreshing_client(make_client)
    bystander = await refreshing_client(make_client)
    first = await browser_tokens(flow, rp, OFFLINE)
    newest = (await refresh(flow.http, flow.org, rp, first["refresh_token"])).json()
    theirs = await browser_tokens(flow, bystander, OFFLINE)

    await client_registry.disable(flow.services.db, flow.org.id, rp.client_id, ADMIN)

    for token in (newest["access_token"], newest["refresh_token"]):
        assert await introspect(flow.http, flow.org, inspector, token) == {"active": False}
    assert await userinfo_status(flow.http, flow.org, newest["access_token"]) == 401
    assert await userinfo_status(flow.http, flow.org, theirs["access_token"]) == 200
    assert (await introspect(flow.http, flow.org, inspector, theirs["refresh_token"]))["active"] is True
    [event] = await events_named(flow.services, flow.org, "client.disabled")
    assert event.subject == {"format": "opaque", "id": rp.client_id}
    assert (event.payload["families"], event.payload["access_revoked"]) == (1, 2)
    [entry] = await audit_rows(flow.services, flow.org, "grants.revoked")
    assert (entry.target_type, entry.target_id) == ("client", rp.client_id)
    assert entry.detail == {
        "reason": "client_disabled",
        "families": 1,
        "access_revoked": 2,
        "sessions_ended": 0,
    }


async def test_a_disabled_client_is_refused_everywhere(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    flow: Flow,
    user: User,
) -> None:
    code, verifier = await issue_code(services, org, web_app.client_id, user, scope=OFFLINE)
    await client_registry.disable(services.db, org.id, web_app.client_id, ADMIN)

    token = await exchange(http, org, web_app, code, verifier)
    assert token.status_code == 401 and token.json()["error"] == "invalid_client"
    for endpoint in ("introspect", "revoke"):
        response = await post(http, org, endpoint, {"token": "anything"}, web_app)
        assert response.status_code == 401 and response.json()["error"] == "invalid_client", endpoint
    flow.rp = web_app
    authorize = await flow.authorize()
    assert authorize.status_code == 400 and "location" not in authorize.headers


async def test_an_enabled_client_works_again_but_old_tokens_stay_dead(
    http: httpx.AsyncClient, services: Services, org: Organization, service_client: RegisteredClient
) -> None:
    before = (await _client_credentials(http, org, service_client)).json()["access_token"]
    await client_registry.disable(services.db, org.id, service_client.client_id, ADMIN)
    assert (await _client_credentials(http, org, service_client)).status_code == 401
    await client_registry.enable(services.db, org.id, service_client.client_id, ADMIN)

    after = await _client_credentials(http, org, service_client)
    assert after.status_code == 200
    assert (await introspect(http, org, service_client, before)) == {"active": False}
    assert (await introspect(http, org, service_client, after.json()["access_token"]))["active"] is True
    [enabled] = await events_named(services, org, "client.enabled")
    assert enabled.subject == {"format": "opaque", "id": service_client.client_id}


async def test_client_status_refusals(
    services: Services, org: Organization, web_app: RegisteredClient
) -> None:
    with pytest.raises(ValueError, match="not disabled"):
        await client_registry.enable(services.db, org.id, web_app.client_id, ADMIN)
    with pytest.raises(LookupError, match="no client"):
        await client_registry.disable(services.db, org.id, "nope", ADMIN)
    await client_registry.disable(services.db, org.id, web_app.client_id, ADMIN)
    with pytest.raises(ValueError, match="already disabled"):
        await client_registry.disable(services.db, org.id, web_app.client_id, ADMIN)
    assert len(await events_named(services, org, "client.disabled")) == 1


async def test_admin_changes_to_clients_are_events(
    services: Services, org: Organization, make_client: MakeClient
) -> None:
    client = await make_client(grant_types=["client_credentials"], redirect_uris=[])
    await client_registry.rotate_secret(services.db, services.keyring, org.id, client.client_id, ADMIN)
    await client_registry.set_refresh_lifetimes(
        services.db, org.id, client.client_id, {"refresh_token_ttl": 7200}, ADMIN
    )
    for name, detail in (
        ("client.created", {"type": "confidential", "grants": ["client_credentials"]}),
        ("client.secret_rotated", {}),
        ("client.updated", {"changed": ["refresh_token_ttl=7200"]}),
    ):
        [event] = await events_named(services, org, name)
        assert event.subject == {"format": "opaque", "id": client.client_id}
        assert detail.items() <= event.payload.items(), name
        assert len(await audit_rows(services, org, name)) == 1
