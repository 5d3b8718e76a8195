"""RFC 8693 token exchange: an allowed relying party gets its user's upstream access token; no one else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from namoid import audit
from namoid.oauth.grants.token_exchange import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE
from namoid.providers import exchange_policy, vault
from namoid.storage.models import AuditEntry, ProviderToken, UpstreamProvider, utcnow
from namoid.storage.repos import provider_connections
from tests.audit_scan import upstream_issued
from tests.features.authorize.conftest import REDIRECT_URI, Flow
from tests.features.providers.test_signin_flow import _connect
from tests.features.token.conftest import basic
from tests.hostile_upstream import Upstream

ADMIN = audit.Actor("admin", "test")


@pytest.fixture
def flow(exchange_flow: Flow) -> Flow:
    return exchange_flow


async def _namoid_access_token(flow: Flow, scope: str) -> str:
    params = await flow.sign_in_and_allow(scope=scope)
    response = await flow.http.post(
        f"{flow.base}/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow.verifier,
        },
        headers=basic(flow.rp.client_id, flow.rp.secret),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def _exchange(flow: Flow, subject_token: str, **extra: str) -> httpx.Response:
    data = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": "up",
    } | extra
    return await flow.http.post(
        f"{flow.base}/token", data=data, headers=basic(flow.rp.client_id, flow.rp.secret)
    )


async def _connected(flow: Flow, upstream: Upstream) -> None:
    assert (await _connect(flow, upstream)).status_code == 200


async def _audit_texts(flow: Flow) -> str:
    async with flow.services.db.tenant(flow.org.id) as session:
        rows = (await session.execute(select(AuditEntry).where(AuditEntry.org_id == flow.org.id))).scalars()
        return " ".join(f"{r.action} {r.target_id} {r.detail}" for r in rows)


async def _grant_types(flow: Flow) -> Any:
    response = await flow.http.get(f"{flow.base}/.well-known/openid-configuration")
    return response.json()["grant_types_supported"]


async def test_an_allowed_client_gets_the_users_upstream_token(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    await _connected(flow, upstream)
    assert TOKEN_EXCHANGE not in await _grant_types(flow)
    await exchange_policy.allow(flow.services.db, flow.org.id, flow.rp.client_id, ["up"], ADMIN)
    assert TOKEN_EXCHANGE in await _grant_types(flow)
    subject = await _namoid_access_token(flow, "openid provider:up")
    response = await _exchange(flow, subject)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["access_token"] == upstream.access_token
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE and body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 300
    assert response.headers["cache-control"] == "no-store"
    texts = await _audit_texts(flow)
    assert TOKEN_EXCHANGE in texts and upstream.access_token not in texts


async def test_a_client_the_org_did_not_allow_is_unauthorized(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    await _connected(flow, upstream)
    subject = await _namoid_access_token(flow, "openid provider:up")
    response = await _exchange(flow, subject)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    ("scope", "extra", "error"),
    [
        ("openid", {}, "invalid_request"),  # the user never granted provider:up
        (
            "openid provider:up",
            {"requested_token_type": "urn:ietf:params:oauth:token-type:id_token"},
            "invalid_request",
        ),
        ("openid provider:up", {"audience": "nowhere"}, "invalid_target"),
        (
            "openid provider:up",
            {"actor_token": "x", "actor_token_type": ACCESS_TOKEN_TYPE},
            "invalid_request",
        ),
        (
            "openid provider:up",
            {"subject_token_type": "urn:ietf:params:oauth:token-type:jwt"},
            "invalid_request",
        ),
    ],
)
async def test_unacceptable_exchanges_are_refused(
    flow: Flow,
    upstream: Upstream,
    upstream_provider: UpstreamProvider,
    scope: str,
    extra: dict[str, str],
    error: str,
) -> None:
    await _connected(flow, upstream)
    await exchange_policy.allow(flow.services.db, flow.org.id, flow.rp.client_id, ["up"], ADMIN)
    subject = await _namoid_access_token(flow, scope)
    response = await _exchange(flow, subject, **extra)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert upstream.access_token not in response.text


async def test_a_forged_subject_token_is_refused(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    await _connected(flow, upstream)
    await exchange_policy.allow(flow.services.db, flow.org.id, flow.rp.client_id, ["up"], ADMIN)
    forged = upstream.sign(
        {"iss": flow.issuer, "aud": flow.issuer, "sub": str(flow.user.id), "exp": 9999999999}
    )
    response = await _exchange(flow, forged)
    assert response.json()["error"] == "invalid_request"


async def test_an_expired_upstream_token_is_refreshed_first(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    await _connected(flow, upstream)
    await exchange_policy.allow(flow.services.db, flow.org.id, flow.rp.client_id, ["up"], ADMIN)
    async with flow.services.db.tenant(flow.org.id) as session:
        row = (await session.scalars(select(ProviderToken))).one()
        connection_id = row.connection_id
        await session.execute(
            update(ProviderToken)
            .where(ProviderToken.id == row.id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    async with flow.services.db.tenant(flow.org.id) as session:  # give it a refresh token
        connection = (await provider_connections.list_for_user(session, flow.org.id, flow.user.id))[0]
        old = await vault.open_for(session, flow.services.keyring, flow.org.id, connection_id)
        await vault.store(
            session,
            flow.services.keyring,
            connection,
            vault.UpstreamTokens(
                old.access_token, "upstream-refresh", None, old.scopes, utcnow() - timedelta(minutes=1)
            ),
        )
    upstream.access_token = upstream_issued("the-refreshed-upstream-access-token")
    subject = await _namoid_access_token(flow, "openid provider:up")
    response = await _exchange(flow, subject)
    assert response.status_code == 200, response.text
    assert response.json()["access_token"] == "the-refreshed-upstream-access-token"
    _, _, _, body = [r for r in upstream.requests if r[1] == "/token"][-1]
    assert "grant_type=refresh_token" in body and "refresh_token=upstream-refresh" in body
    stored = await vault.read(flow.services.db, flow.services.keyring, flow.org.id, connection_id)
    assert (
        stored.access_token == "the-refreshed-upstream-access-token"
        and stored.refresh_token == "upstream-refresh"
    )
