"""Helpers for revocation tests: tokens through the real flows, and their state as RPs see it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from namoid.services import Services
from namoid.storage.models import Organization, SecurityEvent
from namoid.storage.repos import security_events
from tests.features.authorize.conftest import REDIRECT_URI, Flow, flow, query
from tests.features.conftest import MakeClient, RegisteredClient
from tests.features.token.conftest import FULL_SCOPES, post, refresh, service_client, spa, user, web_app

#: Fixtures (and the refresh helper) shared with the token and authorize tests.
__all__ = ["flow", "refresh", "service_client", "spa", "user", "web_app"]

REFRESHING = ["authorization_code", "refresh_token"]


async def events_named(services: Services, org: Organization, name: str) -> list[SecurityEvent]:
    async with services.db.tenant(org.id) as session:
        return [e for e in await security_events.list_recent(session, org.id, limit=500) if e.name == name]


async def introspect(
    http: httpx.AsyncClient, org: Organization, client: RegisteredClient, token: str
) -> dict[str, Any]:
    response = await post(http, org, "introspect", {"token": token}, client)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def userinfo_status(http: httpx.AsyncClient, org: Organization, access_token: str) -> int:
    response = await http.get(f"/o/{org.slug}/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code


@pytest.fixture
async def inspector(make_client: MakeClient) -> RegisteredClient:
    """A confidential client that may introspect every client's tokens (RFC 7662 §4)."""
    return await make_client(grant_types=["client_credentials"], redirect_uris=[], introspect_any=True)


async def browser_code(flow: Flow, rp: RegisteredClient, scope: str, **params: str) -> str:
    """Authorize ``rp`` in the flow's browser (signing in and consenting when asked): the code."""
    step = replace(flow, rp=rp)
    response = await step.authorize(scope=scope, **params)
    while not response.headers["location"].startswith(REDIRECT_URI):
        page = await step.follow(response)
        if page.is_redirect:  # consent already given
            response = page
        elif "/login" in str(page.url):
            response = await step.login(page)
        else:
            response = await step.decide(page, "allow")
    return query(response.headers["location"])["code"]


async def redeem(flow: Flow, rp: RegisteredClient, code: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": flow.verifier,
    }
    return await post(flow.http, flow.org, "token", data, rp)


async def browser_tokens(flow: Flow, rp: RegisteredClient, scope: str, **params: str) -> dict[str, str]:
    """Authorize ``rp`` in the flow's browser, then redeem the code: the RP's token response."""
    issued = await redeem(flow, rp, await browser_code(flow, rp, scope, **params))
    assert issued.status_code == 200, issued.text
    body: dict[str, str] = issued.json()
    return body


async def refreshing_client(make_client: MakeClient, **fields: Any) -> RegisteredClient:
    return await make_client(grant_types=REFRESHING, scopes=FULL_SCOPES, **fields)
