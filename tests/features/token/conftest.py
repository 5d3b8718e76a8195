"""Helpers for token-endpoint tests: codes issued directly, token requests, key material."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from namoid.accounts import sessions
from namoid.crypto.secrets import sha256_hex
from namoid.oauth import codes, pkce
from namoid.oauth.codes import CodeGrant
from namoid.services import Services
from namoid.storage.models import AuditEntry, BrowserSession, Organization, User, utcnow
from namoid.storage.repos import audit_log, refresh_tokens
from namoid.tenancy.resolve import issuer_for
from tests.features.conftest import MakeClient, MakeUser, RegisteredClient

REDIRECT = "https://rp.example/callback"
NONCE = "n-0S6_WzA2Mj"
FULL_SCOPES = ["openid", "profile", "email", "phone", "offline_access"]


def issuer(services: Services, org: Organization) -> str:
    return issuer_for(services.settings.base_url, org.slug)


def basic(client_id: str, secret: str | None) -> dict[str, str]:
    """RFC 6749 §2.3.1: form-urlencode both halves, then Base64."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret or '')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def sign_in(services: Services, org: Organization, user: User) -> BrowserSession:
    """A live browser session of ``user``, as a password sign-in starts it."""
    async with services.db.tenant(org.id) as session:
        started = await sessions.start(session, org, user=user, amr=["pwd"], now=utcnow())
    return started.row


async def issue_code(
    services: Services,
    org: Organization,
    client_id: str,
    user: User,
    *,
    scope: str = "openid profile email",
    redirect_uri: str = REDIRECT,
    nonce: str | None = NONCE,
    sid: str | None = None,
) -> tuple[str, str]:
    """A fresh code (as /authorize would issue it) and its PKCE verifier; bound to browser
    session ``sid``, else to a new live session of ``user``."""
    verifier = secrets.token_urlsafe(48)
    if sid is None:
        sid = (await sign_in(services, org, user)).sid
    async with services.db.tenant(org.id) as session:
        code = await codes.issue(
            session,
            org,
            CodeGrant(
                client_id=client_id,
                user_id=user.id,
                redirect_uri=redirect_uri,
                scope=scope,
                code_challenge=pkce.s256(verifier),
                nonce=nonce,
                sid=sid,
                auth_time=utcnow(),
                amr=["pwd"],
            ),
        )
    return code, verifier


async def post(
    http: httpx.AsyncClient,
    org: Organization,
    endpoint: str,
    data: dict[str, str],
    client: RegisteredClient | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a form to ``/o/{org}/{endpoint}``, authenticating ``client`` as it is registered."""
    data = dict(data)
    headers = dict(headers or {})
    if client is not None:
        method = client.client.token_endpoint_auth_method
        if method == "client_secret_basic":
            headers.update(basic(client.client_id, client.secret))
        elif method == "client_secret_post":
            data.update(client_id=client.client_id, client_secret=client.secret or "")
        elif method == "none":
            data["client_id"] = client.client_id
    return await http.post(f"/o/{org.slug}/{endpoint}", data=data, headers=headers)


async def exchange(
    http: httpx.AsyncClient, org: Organization, client: RegisteredClient, code: str, verifier: str
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    return await post(http, org, "token", data, client)


async def code_tokens(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    client: RegisteredClient,
    user: User,
    scope: str = "openid profile email offline_access",
) -> dict[str, Any]:
    """A code issued to ``client`` for ``user`` and redeemed: the token response."""
    code, verifier = await issue_code(services, org, client.client_id, user, scope=scope)
    response = await exchange(http, org, client, code, verifier)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(
    http: httpx.AsyncClient, org: Organization, client: RegisteredClient, token: str, **extra: str
) -> httpx.Response:
    return await post(
        http, org, "token", {"grant_type": "refresh_token", "refresh_token": token, **extra}, client
    )


async def age_first_use(services: Services, org: Organization, token: str, seconds: float) -> None:
    """Let ``seconds`` pass since a consumed refresh token's first use (its reuse window with it)."""
    async with services.db.tenant(org.id) as session:
        found = await refresh_tokens.find(session, org.id, sha256_hex(token))
        assert found is not None
        row, shift = found[0], timedelta(seconds=seconds)
        assert row.used_at is not None
        row.used_at -= shift
        if row.successor_expires_at is not None:
            row.successor_expires_at -= shift


async def published(services: Services, org: Organization) -> list[dict[str, Any]]:
    return (await services.signing.for_org(org)).published


async def audit_rows(services: Services, org: Organization, action: str | None = None) -> list[AuditEntry]:
    async with services.db.tenant(org.id) as session:
        rows = await audit_log.list_recent(session, org.id, limit=500)
    return [row for row in rows if action is None or row.action == action]


@pytest.fixture
async def user(make_user: MakeUser) -> User:
    return await make_user(phone="+919812345678")


@pytest.fixture
async def web_app(make_client: MakeClient) -> RegisteredClient:
    """A confidential web app (client_secret_basic) with code + refresh grants."""
    return await make_client(grant_types=["authorization_code", "refresh_token"], scopes=FULL_SCOPES)


@pytest.fixture
async def spa(make_client: MakeClient) -> RegisteredClient:
    """A public client (auth method none)."""
    return await make_client(
        client_type="public", grant_types=["authorization_code", "refresh_token"], scopes=FULL_SCOPES
    )


@pytest.fixture
async def service_client(make_client: MakeClient) -> RegisteredClient:
    """A confidential machine client for client_credentials."""
    return await make_client(
        grant_types=["client_credentials"], redirect_uris=[], scopes=["openid", "api.read", "api.write"]
    )
