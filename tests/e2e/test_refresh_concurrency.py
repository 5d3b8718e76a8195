"""Refresh-token rotation under real concurrency: two ``namoid serve`` processes on one PostgreSQL database.

Of simultaneous uses of one refresh token exactly one rotates it (the consuming UPDATE ...
WHERE used_at IS NULL). The two rules for the others (issue 10 §2):
1. Within the client's reuse window, every other use by the token's own client waits for the
   winner's commit and gets the winner's response: all succeed with one and the same
   successor, the family lives and never forks (exactly one unused token in it).
2. Outside the window, or with a window of 0, every other use is a replay (RFC 9700
   §4.14.2): the family and its access tokens are revoked, one security event is raised and
   each loser gets the same invalid_grant (RFC 6749 §5.2).
Many families rotated at once, each by one client, lose no family and fork no chain.
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
    async def create(cls, services: Services, reuse_window: int | None = None) -> Tenant:
        slug = f"race-{uuid.uuid4().hex[:8]}"
        org = await organizations.create(services.db, services.keyring, slug, None, ADMIN)
        meta = client_metadata.validate(
            name="Racing RP",
            client_type="confidential",
            redirect_uris=["https://rp.example/callback"],
            grant_types=["authorization_code", "refresh_token"],
            scopes=SCOPE.split(" "),
            refresh_reuse_window=reuse_window,
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

    async def race(
        self, clients: list[httpx.AsyncClient], seeded: list[tuple[uuid.UUID, str]]
    ) -> list[list[httpx.Response]]:
        """Each seeded token used ``RACERS`` times at once, alternately through the two servers."""

        async def uses(token: str) -> list[httpx.Response]:
            return await asyncio.gather(*(self.refresh(clients[i % 2], token) for i in range(RACERS)))

        return await asyncio.gather(*(uses(token) for _, token in seeded))

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


def _the_one_refusal(outcomes: list[list[httpx.Response]]) -> tuple[int, bytes]:
    """Every refused use got the very same invalid_grant (RFC 6749 §5.2): (status, body)."""
    refusals = {(r.status_code, r.content) for responses in outcomes for r in responses}
    assert len(refusals) == 1, refusals
    status, body = refusals.pop()
    assert status == 400 and json.loads(body)["error"] == "invalid_grant"
    return status, body


async def _audit_counts(owner: Database, tenant: Tenant, action: str) -> dict[str, int]:
    """Audit entries of ``action`` per family id."""
    async with owner.system() as session:
        counted = await session.execute(
            select(AuditEntry.target_id, func.count())
            .where(AuditEntry.org_id == tenant.org_id, AuditEntry.action == action)
            .group_by(AuditEntry.target_id)
        )
    return {str(target): count for target, count in counted}


async def _let_the_windows_close(owner: Database, seeded: list[tuple[uuid.UUID, str]]) -> None:
    """Move the first use of each seeded token a minute into the past, its reuse window with it."""
    minute = timedelta(minutes=1)
    async with owner.system() as session:
        hashes = [sha256_hex(token) for _, token in seeded]
        for row in await session.scalars(select(RefreshToken).where(RefreshToken.token_hash.in_(hashes))):
            assert row.used_at is not None and row.successor_expires_at is not None
            row.used_at -= minute
            row.successor_expires_at -= minute


@POSTGRES_ONLY
async def test_within_the_window_simultaneous_uses_share_one_successor_and_a_later_replay_revokes(
    backend: Backend, tmp_path: Path, keyring_file: Path, services: Services, owner_db: Database
) -> None:
    tenant = await Tenant.create(services)  # a confidential client's default window: 30 s
    seeded = await tenant.families(RACES)
    with two_servers(backend, tmp_path, keyring_file) as servers:
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(server.async_client()) for server in servers]

            outcomes = await tenant.race(clients, seeded)
            assert {r.status_code for rs in outcomes for r in rs} == {200}
            answers = [[r.json() for r in responses] for responses in outcomes]
            for responses in answers:  # one answer per family: one successor, one access token
                assert len({(a["refresh_token"], a["access_token"], a["id_token"]) for a in responses}) == 1
            issued = [responses[0]["refresh_token"] for responses in answers]

            for (family_id, token), new in zip(seeded, issued, strict=True):
                family, tokens, access = await _family_rows(owner_db, family_id)
                assert family.revoked_at is None
                assert sorted(t.token_hash for t in tokens) == sorted([sha256_hex(token), sha256_hex(new)])
                assert [t.token_hash for t in tokens if t.used_at is None] == [sha256_hex(new)]  # no fork
                assert len(access) == 1 and access[0].revoked_at is None
            rotated = await _audit_counts(owner_db, tenant, "refresh_token.rotated")
            reused = await _audit_counts(owner_db, tenant, "refresh_token.reused_within_grace")
            assert rotated == {str(family_id): 1 for family_id, _ in seeded}
            assert reused == {str(family_id): RACERS - 1 for family_id, _ in seeded}
            assert await _replay_counts(owner_db, tenant) == ({}, 0)

            # Rule 2: the same token once the window has closed is a replay, raised once per family.
            await _let_the_windows_close(owner_db, seeded)
            status, body = _the_one_refusal(await tenant.race(clients, seeded))
            for i, token in enumerate(issued):  # the shared successor died with its family
                dead = await tenant.refresh(clients[i % 2], token)
                assert (dead.status_code, dead.content) == (status, body)

    audited, events = await _replay_counts(owner_db, tenant)
    assert audited == {str(family_id): 1 for family_id, _ in seeded} and events == RACES
    for family_id, _ in seeded:
        family, _, access = await _family_rows(owner_db, family_id)
        assert family.revoked_reason == "replayed" and access[0].revoked_at is not None


@POSTGRES_ONLY
async def test_without_a_window_simultaneous_uses_rotate_once_and_revoke_the_family(
    backend: Backend, tmp_path: Path, keyring_file: Path, services: Services, owner_db: Database
) -> None:
    tenant = await Tenant.create(services, reuse_window=0)
    seeded = await tenant.families(RACES)
    with two_servers(backend, tmp_path, keyring_file) as servers:
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(server.async_client()) for server in servers]

            outcomes = await tenant.race(clients, seeded)
            winners = [[r for r in responses if r.status_code == 200] for responses in outcomes]
            assert [len(w) for w in winners] == [1] * RACES
            status, body = _the_one_refusal([[r for r in rs if r.status_code != 200] for rs in outcomes])
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
