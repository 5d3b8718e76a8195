"""Refresh-token lifetimes per client, and one answer for every unusable refresh token."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from namoid.crypto.secrets import new_token, sha256_hex
from namoid.oauth import client_registry
from namoid.services import Services
from namoid.storage.models import Organization, RefreshFamily, RefreshToken, User, utcnow
from namoid.storage.repos import refresh_tokens
from namoid.tenancy import organizations
from tests.features.conftest import ADMIN, MakeClient, RegisteredClient
from tests.features.token.conftest import FULL_SCOPES, age_first_use, exchange, issue_code, post

REFUSED = {"error": "invalid_grant", "error_description": "the refresh token is invalid, expired or revoked"}
REFRESHING = ["authorization_code", "refresh_token"]


async def _first_refresh_token(
    http: httpx.AsyncClient, services: Services, org: Organization, client: RegisteredClient, user: User
) -> str:
    code, verifier = await issue_code(services, org, client.client_id, user, scope="openid offline_access")
    response = await exchange(http, org, client, code, verifier)
    assert response.status_code == 200, response.text
    token: str = response.json()["refresh_token"]
    return token


async def _refresh(
    http: httpx.AsyncClient, org: Organization, client: RegisteredClient, token: str
) -> httpx.Response:
    return await post(http, org, "token", {"grant_type": "refresh_token", "refresh_token": token}, client)


async def _stored(services: Services, org: Organization, token: str) -> tuple[RefreshToken, RefreshFamily]:
    async with services.db.tenant(org.id) as session:
        found = await refresh_tokens.find(session, org.id, sha256_hex(token))
    assert found is not None
    return found


async def _time_passes(services: Services, org: Organization, family_id: uuid.UUID, seconds: int) -> None:
    """Move a family and its tokens ``seconds`` into the past, as if that much time went by."""
    delta = timedelta(seconds=seconds)
    async with services.db.tenant(org.id) as session:
        family = await session.get(RefreshFamily, family_id)
        assert family is not None
        family.created_at -= delta
        family.expires_at -= delta
        for token in await session.scalars(select(RefreshToken).where(RefreshToken.family_id == family_id)):
            token.created_at -= delta
            token.expires_at -= delta
            if token.used_at is not None:
                token.used_at -= delta


async def test_client_lifetimes_override_the_orgs(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient, user: User
) -> None:
    client = await make_client(
        grant_types=REFRESHING, scopes=FULL_SCOPES, refresh_token_ttl=7200, refresh_idle_ttl=1800
    )
    before = utcnow()
    token, family = await _stored(
        services, org, await _first_refresh_token(http, services, org, client, user)
    )
    assert family.expires_at - family.created_at == timedelta(seconds=7200)
    assert before + timedelta(seconds=1800) <= token.expires_at <= utcnow() + timedelta(seconds=1800)

    plain = await make_client(grant_types=REFRESHING, scopes=FULL_SCOPES)
    _, org_family = await _stored(services, org, await _first_refresh_token(http, services, org, plain, user))
    assert org_family.expires_at - org_family.created_at == timedelta(seconds=org.refresh_token_ttl)


async def test_idle_expiry_follows_the_client(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient, user: User
) -> None:
    client = await make_client(grant_types=REFRESHING, scopes=FULL_SCOPES, refresh_idle_ttl=1800)
    first = await _first_refresh_token(http, services, org, client, user)
    _, family = await _stored(services, org, first)
    await _time_passes(services, org, family.id, 1700)
    rotated = await _refresh(http, org, client, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    await _time_passes(services, org, family.id, 1801)  # idle too long; the org's 14 days would allow it
    response = await _refresh(http, org, client, second)
    assert (response.status_code, response.json()) == (400, REFUSED)


async def test_absolute_expiry_follows_the_client(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient, user: User
) -> None:
    client = await make_client(
        grant_types=REFRESHING, scopes=FULL_SCOPES, refresh_token_ttl=3600, refresh_idle_ttl=3000
    )
    first = await _first_refresh_token(http, services, org, client, user)
    _, family = await _stored(services, org, first)
    await _time_passes(services, org, family.id, 2000)
    rotated = await _refresh(http, org, client, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    token, family = await _stored(services, org, second)
    assert token.expires_at == family.expires_at  # the idle window is cut at the family's end
    await _time_passes(services, org, family.id, 1601)
    response = await _refresh(http, org, client, second)
    assert (response.status_code, response.json()) == (400, REFUSED)


@pytest.mark.parametrize(
    ("lifetimes", "message"),
    [
        ({"refresh_token_ttl": 60}, "between"),
        ({"refresh_idle_ttl": 400 * 86400}, "between"),
        ({"refresh_token_ttl": 7200, "refresh_idle_ttl": 9000}, "cannot exceed"),
        ({"refresh_idle_ttl": 40 * 86400}, "cannot exceed"),  # above the org's 30-day absolute
    ],
)
async def test_out_of_range_client_lifetimes_are_refused(
    services: Services, org: Organization, make_client: MakeClient, lifetimes: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await make_client(grant_types=REFRESHING, **lifetimes)
    client = await make_client(grant_types=REFRESHING)
    with pytest.raises(ValueError, match=message):
        await client_registry.set_refresh_lifetimes(services.db, org.id, client.client_id, lifetimes, ADMIN)


async def test_set_refresh_lifetimes_checks_against_the_stored_override(
    services: Services, org: Organization, make_client: MakeClient
) -> None:
    client = await make_client(grant_types=REFRESHING, refresh_token_ttl=7200)
    with pytest.raises(ValueError, match="cannot exceed"):
        await client_registry.set_refresh_lifetimes(
            services.db, org.id, client.client_id, {"refresh_idle_ttl": 7201}, ADMIN
        )
    changed = await client_registry.set_refresh_lifetimes(
        services.db, org.id, client.client_id, {"refresh_idle_ttl": 3600}, ADMIN
    )
    assert (changed.refresh_token_ttl, changed.refresh_idle_ttl) == (7200, 3600)


async def test_every_unusable_refresh_token_gets_the_same_answer(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    web_app: RegisteredClient,
    user: User,
) -> None:
    """Malformed, unknown, idle- or absolutely expired, revoked, used, another client's or another
    org's: one invalid_grant body, never a 500 and never a hint which case it was."""
    other_client = await make_client(grant_types=REFRESHING, scopes=FULL_SCOPES)
    other_org = await organizations.create(services.db, services.keyring, f"{org.slug}-o", None, ADMIN)
    elsewhere = await make_client(other_org, grant_types=REFRESHING, scopes=FULL_SCOPES)

    idle = await _first_refresh_token(http, services, org, web_app, user)
    idle_token, _ = await _stored(services, org, idle)
    absolute = await _first_refresh_token(http, services, org, web_app, user)
    _, absolute_family = await _stored(services, org, absolute)
    revoked = await _first_refresh_token(http, services, org, web_app, user)
    assert (await post(http, org, "revoke", {"token": revoked}, web_app)).status_code == 200
    used = await _first_refresh_token(http, services, org, web_app, user)
    assert (await _refresh(http, org, web_app, used)).status_code == 200
    await age_first_use(services, org, used, 60)  # used, and past its reuse window
    async with services.db.tenant(org.id) as session:
        row = await session.get(RefreshToken, idle_token.id)
        family = await session.get(RefreshFamily, absolute_family.id)
        assert row is not None and family is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        family.expires_at = utcnow() - timedelta(seconds=1)
    live = await _first_refresh_token(http, services, org, web_app, user)

    cases = [
        (web_app, org, "x"),
        (web_app, org, "ünïcödé-tøken"),
        (web_app, org, "A" * 2048),
        (web_app, org, "eyJhbGciOiJub25lIn0.e30."),  # pragma: allowlist secret
        (web_app, org, new_token(32)),  # well-formed, never issued
        (web_app, org, idle),
        (web_app, org, absolute),
        (web_app, org, revoked),
        (web_app, org, used),
        (other_client, org, live),
        (elsewhere, other_org, live),
    ]
    for client, target, token in cases:
        response = await _refresh(http, target, client, token)
        assert (response.status_code, response.json()) == (400, REFUSED), token[:20]
    assert (await _refresh(http, org, web_app, live)).status_code == 200
