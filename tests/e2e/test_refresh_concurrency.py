"""Refresh-token rotation under real concurrency: two ``namoid serve`` processes on one PostgreSQL database.

Of simultaneous uses of one refresh token exactly one rotates it (the consuming UPDATE ...
WHERE used_at IS NULL); every other one finds the token consumed and is a replay (RFC 9700
§4.14.2): the family and its access tokens are revoked, one security event is raised and
each loser gets the same invalid_grant (RFC 6749 §5.2). Many families rotated at once, each
by one client, lose no family and fork no chain.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from namoid.accounts import users
from namoid.crypto.secrets import new_token, sha256_hex
from namoid.crypto.tls import ensure_dev_certificate
from namoid.oauth import client_metadata, client_registry
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import AccessToken, AuditEntry, RefreshFamily, RefreshToken, SecurityEvent, utcnow
from namoid.storage.repos import refresh_tokens
from namoid.tenancy import organizations
from tests.conftest import POSTGRES_ONLY, Backend
from tests.e2e.test_server import Server, _production, running
from tests.features.conftest import ADMIN, PASSWORD

SCOPE = "openid profile"
RACES, RACERS = 20, 8  # families, simultaneous uses of each one's token
CHAINS, ROTATIONS = 50, 10  # families, sequential rotations of each
REPLAYED = "refresh_token.replayed"
UNLIMITED = {name: "1000000/minute" for name in ("token.ip", "token.client")}


@contextmanager
def two_servers(backend: Backend, tmp_path: Path, keyring_file: Path) -> Iterator[tuple[Server, Server]]:
    """Two production-mode processes on one database and keyring; the limiter out of the way."""
    tls = ensure_dev_certificate(tmp_path / "tls")
    env = _production(
        backend,
        tmp_path,
        tls,
        NAMOID_KEYRING_FILE=str(keyring_file),  # the keyring of ``services``, which seeds the org
        NAMOID_RATE_LIMITS=json.dumps(UNLIMITED),
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running(tmp_path / "a", tls[0], env) as first, running(tmp_path / "b", tls[0], env) as second:
        yield first, second


@dataclass(frozen=True)
class Tenant:
    """An org with a confidential client allowed to refresh, a user, and their refresh families."""

    services: Services
    slug: str
    org_id: uuid.UUID
    client_id: str
    secret: str
    user_id: uuid.UUID

    @classmethod
    async def create(cls, services: Services) -> Tenant:
        slug = f"race-{uuid.uuid4().hex[:8]}"
        org = await organizations.create(services.db, services.keyring, slug, None, ADMIN)
        meta = client_metadata.validate(
            name="Racing RP",
            client_type="confidential",
            redirect_uris=["https://rp.example/callback"],
            grant_types=["authorization_code", "refresh_token"],
            scopes=SCOPE.split(" "),
        )
        client, secret = await client_registry.register(services.db, services.keyring, org.id, meta, ADMIN)
        user = await users.create(
            services.db,
            org.id,
            actor=ADMIN,
            email=f"racer-{uuid.uuid4().hex[:8]}@example.com",
            password=PASSWORD,
            phone=None,
            name="Racer",
        )
        assert secret is not None
        return cls(services, slug, org.id, client.client_id, secret, user.id)

    async def families(self, count: int) -> list[tuple[uuid.UUID, str]]:
        """``count`` new families, each with one unused token whose raw value is known: (family, token)."""
        now = utcnow()
        seeded = []
        async with self.services.db.tenant(self.org_id) as session:
            for _ in range(count):
                family = await refresh_tokens.start_family(
                    session,
                    self.org_id,
                    RefreshFamily(
                        client_id=self.client_id,
                        user_id=self.user_id,
                        scope=SCOPE,
                        sid=None,
                        auth_time=now,
                        amr=["pwd"],
                        created_at=now,
                        expires_at=now + timedelta(hours=1),
                    ),
                )
                token = new_token()
                await refresh_tokens.add(
                    session, self.org_id, family.id, sha256_hex(token), now + timedelta(hours=1)
                )
                seeded.append((family.id, token))
        return seeded

    async def refresh(self, http: httpx.AsyncClient, token: str) -> httpx.Response:
        return await http.post(
            f"/o/{self.slug}/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=(self.client_id, self.secret),
        )


async def _family_rows(
    owner: Database, family_id: uuid.UUID
) -> tuple[RefreshFamily, list[RefreshToken], list[AccessToken]]:
    """The family, its refresh tokens and its access tokens, read as the owner (no RLS)."""
    async with owner.system() as session:
        family = await session.get_one(RefreshFamily, family_id)
        tokens = (
            await session.scalars(select(RefreshToken).where(RefreshToken.family_id == family_id))
        ).all()
        access = (await session.scalars(select(AccessToken).where(AccessToken.family_id == family_id))).all()
    return family, list(tokens), list(access)


async def _replay_counts(owner: Database, tenant: Tenant) -> tuple[dict[str, int], int]:
    """Replay audit entries per family id, and the org's replay security events."""
    async with owner.system() as session:
        audited = (
            await session.execute(
                select(AuditEntry.target_id, func.count())
                .where(AuditEntry.org_id == tenant.org_id, AuditEntry.action == REPLAYED)
                .group_by(AuditEntry.target_id)
            )
        ).all()
        events = await session.scalar(
            select(func.count())
            .select_from(SecurityEvent)
            .where(SecurityEvent.org_id == tenant.org_id, SecurityEvent.name == REPLAYED)
        )
    return {str(target): count for target, count in audited}, int(events or 0)


@POSTGRES_ONLY
async def test_simultaneous_uses_of_one_token_rotate_once_and_revoke_the_family(
    backend: Backend, tmp_path: Path, keyring_file: Path, services: Services, owner_db: Database
) -> None:
    tenant = await Tenant.create(services)
    seeded = await tenant.families(RACES)
    with two_servers(backend, tmp_path, keyring_file) as servers:
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(server.async_client()) for server in servers]

            async def race(token: str) -> list[httpx.Response]:
                return await asyncio.gather(*(tenant.refresh(clients[i % 2], token) for i in range(RACERS)))

            outcomes = await asyncio.gather(*(race(token) for _, token in seeded))
            winners = [[r for r in responses if r.status_code == 200] for responses in outcomes]
            assert [len(w) for w in winners] == [1] * RACES
            refusals = {(r.status_code, r.content) for rs in outcomes for r in rs if r.status_code != 200}
            assert len(refusals) == 1, refusals  # every loser gets the very same answer
            status, body = refusals.pop()
            assert status == 400 and json.loads(body)["error"] == "invalid_grant"
            issued = [w[0].json()["refresh_token"] for w in winners]
            # The winners' new tokens died with their families.
            for i, token in enumerate(issued):
                late = await tenant.refresh(clients[i % 2], token)
                assert (late.status_code, late.content) == (status, body)

    audited, events = await _replay_counts(owner_db, tenant)
    for (family_id, token), new in zip(seeded, issued, strict=True):
        family, tokens, access = await _family_rows(owner_db, family_id)
        assert family.revoked_at is not None and family.revoked_reason == "replayed"
        assert sorted(t.token_hash for t in tokens) == sorted([sha256_hex(token), sha256_hex(new)])
        assert len(access) == 1 and access[0].revoked_at is not None  # the winner's, revoked
        assert audited.get(str(family_id)) == 1
    assert events == RACES


@POSTGRES_ONLY
async def test_many_families_rotated_at_once_lose_nothing_and_never_fork(
    backend: Backend, tmp_path: Path, keyring_file: Path, services: Services, owner_db: Database
) -> None:
    tenant = await Tenant.create(services)
    seeded = await tenant.families(CHAINS)
    with two_servers(backend, tmp_path, keyring_file) as servers:
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(server.async_client()) for server in servers]

            async def rotate(token: str) -> str:
                for i in range(ROTATIONS):
                    response = await tenant.refresh(clients[i % 2], token)
                    assert response.status_code == 200, response.text
                    token = response.json()["refresh_token"]
                return token

            latest = await asyncio.gather(*(rotate(token) for _, token in seeded))

            for (family_id, _), token in zip(seeded, latest, strict=True):
                family, tokens, access = await _family_rows(owner_db, family_id)
                assert family.revoked_at is None
                assert len(tokens) == ROTATIONS + 1
                assert [t.token_hash for t in tokens if t.used_at is None] == [sha256_hex(token)]
                assert len(access) == ROTATIONS and all(a.revoked_at is None for a in access)
            # The end of each chain still works, on either server.
            finals = await asyncio.gather(
                *(tenant.refresh(clients[i % 2], token) for i, token in enumerate(latest))
            )
            assert [r.status_code for r in finals] == [200] * CHAINS
    assert await _replay_counts(owner_db, tenant) == ({}, 0)
