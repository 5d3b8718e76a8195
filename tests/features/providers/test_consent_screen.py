"""The consent screen names a ``provider:NAME`` scope's provider as people know it and says what
the relying party would receive through token exchange (RFC 8693), or why it would get nothing."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import update

from namoid.providers import exchange_policy, registry, vault
from namoid.services import Services
from namoid.storage.models import Organization, UpstreamProvider
from tests.features.authorize.conftest import Flow
from tests.features.providers.conftest import ADMIN, UPSTREAM_SECRET, Connect
from tests.hostile_upstream import CLIENT_ID, Upstream

SCOPE = "openid provider:up"


@pytest.fixture
def flow(exchange_flow: Flow) -> Flow:
    return exchange_flow


@pytest.fixture
async def github(services: Services, org: Organization) -> UpstreamProvider:
    spec = registry.ProviderSpec(
        name="up", preset="github", client_id=CLIENT_ID, client_secret=UPSTREAM_SECRET
    )
    return await registry.add(services.db, services.keyring, org.id, spec, ADMIN)


async def _consent_line(flow: Flow) -> str:
    login_page = await flow.follow(await flow.authorize(scope=SCOPE))
    consent = await flow.follow(await flow.login(login_page))
    assert consent.status_code == 200 and 'value="allow"' in consent.text, consent.text
    text = html.unescape(consent.text)
    [line] = [item for item in text.split("<li>") if "(provider:up)" in item]
    return " ".join(line.split())


async def _allow(flow: Flow) -> None:
    await exchange_policy.allow(flow.services.db, flow.org.id, flow.rp.client_id, ["up"], ADMIN)


def _tokens() -> vault.UpstreamTokens:
    return vault.UpstreamTokens("upstream-access", None, None, ("read:user",), None)


async def test_a_connected_and_allowed_provider_is_named_with_what_the_client_receives(
    flow: Flow, github: UpstreamProvider, connect: Connect
) -> None:
    await _allow(flow)
    await connect(github, flow.user, _tokens())
    line = await _consent_line(flow)
    assert line.startswith("Act for you at GitHub: receive access tokens for your GitHub account")
    assert "(read:user, user:email)" in line and "until you disconnect GitHub" in line
    assert "nothing is shared" not in line and "Use “provider:up”" not in line


async def test_a_provider_the_org_did_not_allow_for_the_client_says_nothing_is_shared(
    flow: Flow, github: UpstreamProvider, connect: Connect
) -> None:
    await connect(github, flow.user, _tokens())
    line = await _consent_line(flow)
    assert "Act for you at GitHub" in line
    assert "has not allowed" in line and "to do so yet: nothing is shared" in line


async def test_a_provider_the_user_has_not_connected_says_nothing_is_shared(
    flow: Flow, github: UpstreamProvider
) -> None:
    await _allow(flow)
    line = await _consent_line(flow)
    assert "Your account is not connected to GitHub: nothing is shared unless you connect it" in line


async def test_any_oidc_provider_is_named_with_its_issuers_host(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider, connect: Connect
) -> None:
    await _allow(flow)
    await connect(upstream_provider, flow.user, _tokens())
    line = await _consent_line(flow)
    assert line.startswith("Act for you at up (127.0.0.1): receive access tokens for your up (127.0.0.1)")
    assert "(openid, email, profile)" in line


async def test_a_disabled_or_unknown_provider_is_never_described_as_shared(
    flow: Flow, github: UpstreamProvider
) -> None:
    await _allow(flow)
    async with flow.services.db.tenant(flow.org.id) as session:
        await session.execute(update(UpstreamProvider).values(enabled=False))
    line = await _consent_line(flow)
    assert "a provider this organization does not offer: nothing is shared" in line
