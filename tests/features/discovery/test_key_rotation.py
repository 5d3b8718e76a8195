"""Signing-key rotation: the new key signs at once; the old one stays published for its window."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from namoid import audit
from namoid.jose.jwt import unverified_header, verify
from namoid.services import Services
from namoid.signing import publication_window
from namoid.signing_rotation import prune_signing_keys, rotate_signing_key
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, Organization, SigningKey, utcnow
from namoid.tenancy.resolve import issuer_for
from tests.features.conftest import MakeClient, RegisteredClient

ACTOR = audit.Actor("admin", "test")


@pytest.fixture
async def service_client(make_client: MakeClient) -> RegisteredClient:
    return await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["api"])


async def _client_credentials_token(http: httpx.AsyncClient, org: Organization, rp: RegisteredClient) -> str:
    response = await http.post(
        f"/o/{org.slug}/token",
        data={"grant_type": "client_credentials", "scope": "api"},
        auth=(rp.client_id, rp.secret or ""),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def _published_kids(http: httpx.AsyncClient, org: Organization) -> list[str]:
    return [key["kid"] for key in (await http.get(f"/o/{org.slug}/jwks.json")).json()["keys"]]


async def _keys(owner_db: Database, org: Organization) -> list[SigningKey]:
    async with owner_db.system() as session:
        query = select(SigningKey).where(SigningKey.org_id == org.id).order_by(SigningKey.created_at)
        return list(await session.scalars(query))


async def _actions(owner_db: Database, org: Organization, prefix: str) -> list[AuditEntry]:
    async with owner_db.system() as session:
        query = (
            select(AuditEntry)
            .where(AuditEntry.org_id == org.id, AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.seq)
        )
        return list(await session.scalars(query))


async def _age_retired_keys(owner_db: Database, org: Organization, by: timedelta) -> None:
    """Move retirement into the past (the owner connection bypasses RLS for the set-up)."""
    async with owner_db.system() as session:
        await session.execute(
            update(SigningKey)
            .where(SigningKey.org_id == org.id, SigningKey.status == "retired")
            .values(retired_at=utcnow() - by)
        )


async def test_new_key_signs_and_old_key_stays_published(
    services: Services,
    http: httpx.AsyncClient,
    org: Organization,
    service_client: RegisteredClient,
    owner_db: Database,
) -> None:
    before = await _client_credentials_token(http, org, service_client)
    old_kid = unverified_header(before)["kid"]

    rotation = await rotate_signing_key(services.db, services.keyring, services.signing, org, "RS256", ACTOR)

    assert rotation.retired == [old_kid] and rotation.kid != old_kid and rotation.removed == []
    after = await _client_credentials_token(http, org, service_client)
    assert unverified_header(after)["kid"] == rotation.kid
    published = (await http.get(f"/o/{org.slug}/jwks.json")).json()["keys"]
    assert {k["kid"] for k in published} == {old_kid, rotation.kid}
    issuer = issuer_for(services.settings.base_url, org.slug)
    for token in (before, after):  # a token signed before the rotation still verifies
        verify(token, published, issuer=issuer, audience=issuer, typ="at+jwt")
    keys = await _keys(owner_db, org)
    assert [(k.kid, k.status) for k in keys] == [(old_kid, "retired"), (rotation.kid, "active")]
    assert keys[0].retired_at is not None and utcnow() - keys[0].retired_at < timedelta(minutes=1)
    [rotated] = await _actions(owner_db, org, "signing_key.rotated")
    assert rotated.target_id == rotation.kid and rotated.actor_type == "admin"
    assert rotated.detail == {"alg": "RS256", "retired_kids": [old_kid]}


async def test_retired_key_is_removed_after_its_window(
    services: Services, http: httpx.AsyncClient, org: Organization, owner_db: Database
) -> None:
    first = await rotate_signing_key(services.db, services.keyring, services.signing, org, "RS256", ACTOR)
    [old_kid] = first.retired
    window = publication_window(org)

    await _age_retired_keys(owner_db, org, window - timedelta(seconds=30))
    assert old_kid not in await prune_signing_keys(services.db, services.signing, ACTOR)
    assert old_kid in await _published_kids(http, org)

    await _age_retired_keys(owner_db, org, window + timedelta(seconds=1))
    services.signing.invalidate(org.id)
    assert old_kid not in await _published_kids(http, org)  # unpublished at once, row still there
    removed = await prune_signing_keys(services.db, services.signing, ACTOR)
    assert old_kid in removed
    assert [k.kid for k in await _keys(owner_db, org)] == [first.kid]
    [entry] = await _actions(owner_db, org, "signing_key.removed")
    assert entry.target_id == old_kid and entry.detail["alg"] == "RS256"
    assert await _published_kids(http, org) == [first.kid]


async def test_rotation_removes_keys_past_their_window(
    services: Services, org: Organization, owner_db: Database
) -> None:
    first = await rotate_signing_key(services.db, services.keyring, services.signing, org, "RS256", ACTOR)
    await _age_retired_keys(owner_db, org, publication_window(org) * 2)
    second = await rotate_signing_key(services.db, services.keyring, services.signing, org, "RS256", ACTOR)
    assert second.retired == [first.kid] and second.removed == first.retired
    assert [(k.kid, k.status) for k in await _keys(owner_db, org)] == [
        (first.kid, "retired"),
        (second.kid, "active"),
    ]


async def test_rotating_one_algorithm_leaves_the_others(
    services: Services, org: Organization, make_client: MakeClient, owner_db: Database
) -> None:
    await make_client(id_token_alg="ES256")
    es256 = next(k.kid for k in await _keys(owner_db, org) if k.alg == "ES256")
    rotation = await rotate_signing_key(services.db, services.keyring, services.signing, org, "PS256", ACTOR)
    assert rotation.retired == []  # no PS256 key yet: the rotation creates the first one
    status = {k.kid: (k.alg, k.status) for k in await _keys(owner_db, org)}
    assert status[es256] == ("ES256", "active") and status[rotation.kid] == ("PS256", "active")
    keys = await services.signing.for_org(org)
    assert keys.signer("PS256").kid == rotation.kid and keys.signer("ES256").kid == es256


async def test_pruning_is_per_org(services: Services, org: Organization, owner_db: Database) -> None:
    from namoid.tenancy import organizations
    from tests.features.conftest import ADMIN

    other = await organizations.create(
        services.db, services.keyring, f"prune-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    mine = await rotate_signing_key(services.db, services.keyring, services.signing, org, "RS256", ACTOR)
    theirs = await rotate_signing_key(services.db, services.keyring, services.signing, other, "RS256", ACTOR)
    await _age_retired_keys(owner_db, org, publication_window(org) * 2)
    removed = await prune_signing_keys(services.db, services.signing, ACTOR)
    assert set(mine.retired) <= set(removed) and not set(theirs.retired) & set(removed)
    assert len(await _keys(owner_db, other)) == 2
