"""Per-organization signing keys, decrypted once and cached (no key decryption per request).

An org's JWKS publishes its active keys and every retired key until each token the key
signed has expired (DESIGN.md §3). A change of an org's keys drops them from every listening
node's cache at once (``nodecache.SIGNING_KEYS``); any node reloads them at least every ``ttl``
seconds, since a retired key also leaves the JWKS by the passing of time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, nodecache
from namoid.crypto.keyring import Keyring, aad_for
from namoid.jose.keys import (
    SIGNING_ALGORITHMS,
    Algorithm,
    PrivateSigningKey,
    generate_signing_key,
    load_private_key,
)
from namoid.storage.db import Database
from namoid.storage.models import Organization, SigningKey, utcnow
from namoid.storage.repos import signing_keys

#: How long a node keeps an org's keys before reloading them (so a rotation spreads in this time).
KEY_CACHE_TTL = 60.0
#: Every organization is created with an active key of this algorithm, and keeps one.
ORG_KEY_ALG: Algorithm = "RS256"


def publication_window(org: Organization) -> timedelta:
    """How long a retired key stays in the JWKS: the longest lifetime of a token it signed, plus
    the key cache's lifetime, during which other nodes may still sign with the retired key."""
    return timedelta(seconds=max(org.access_token_ttl, org.id_token_ttl) + KEY_CACHE_TTL)


def still_published(key: SigningKey, org: Organization) -> bool:
    if key.status == "active":
        return True
    return key.retired_at is not None and key.retired_at + publication_window(org) > utcnow()


@dataclass(frozen=True, slots=True)
class OrgKeys:
    """An org's active private keys by algorithm and its published public JWKs."""

    active: dict[str, PrivateSigningKey]
    published: list[dict[str, Any]]

    def signer(self, alg: str) -> PrivateSigningKey:
        try:
            return self.active[alg]
        except KeyError:
            raise LookupError(f"the organization has no active {alg} signing key") from None

    def jwks(self) -> dict[str, Any]:
        return {"keys": self.published}


@dataclass
class SigningKeyStore:
    db: Database
    keyring: Keyring
    ttl: float = KEY_CACHE_TTL
    clock: Callable[[], float] = time.monotonic
    caches: nodecache.Caches = field(default_factory=nodecache.Caches)
    _cache: nodecache.NodeCache[str, OrgKeys] = field(init=False)
    _loading: dict[uuid.UUID, asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A node that hears no invalidations still keeps keys ``ttl`` seconds: a retired key stays
        # published for that long after its retirement (``publication_window``).
        self._cache = self.caches.cache(
            nodecache.SIGNING_KEYS, self.ttl, unlistened_max_age=self.ttl, clock=self.clock
        )

    async def for_org(self, org: Organization) -> OrgKeys:
        cached = self._cache.get(str(org.id))
        if not isinstance(cached, nodecache.Missing):
            return cached
        # One load per org at a time: concurrent misses wait for it instead of each taking a
        # database connection (and decrypting the keys) themselves. While it runs, keys that
        # have only just outlived the TTL are served: a caller inside a transaction must not
        # wait, holding its connection, for a loader that needs one too.
        loading = self._loading.setdefault(org.id, asyncio.Lock())
        stale = self._cache.peek(str(org.id))
        if not isinstance(stale, nodecache.Missing) and loading.locked():
            return stale
        async with loading:
            stamp = self._cache.stamp()
            cached = self._cache.get(str(org.id))
            if not isinstance(cached, nodecache.Missing):
                return cached
            keys = await self._load(org)
            self._cache.put(str(org.id), keys, stamp)
            return keys

    async def active_key(self, org: Organization, alg: str) -> PrivateSigningKey:
        """The org's active key for ``alg``, reloading once if the cache predates that key."""
        try:
            return (await self.for_org(org)).signer(alg)
        except LookupError:
            self.invalidate(org.id)
            return (await self.for_org(org)).signer(alg)

    def invalidate(self, org_id: uuid.UUID) -> None:
        self._cache.drop(str(org_id))

    async def _load(self, org: Organization) -> OrgKeys:
        async with self.db.tenant(org.id) as session:
            rows = await signing_keys.list_all(session, org.id)
        active: dict[str, PrivateSigningKey] = {}
        for row in rows:
            if row.status == "active":
                aad = aad_for("signing_keys", "private_key_enc", str(org.id), str(row.id))
                pem = self.keyring.decrypt(row.private_key_enc, aad)
                active[row.alg] = load_private_key(row.kid, _alg(row.alg), pem)
        published = [dict(row.public_jwk) for row in rows if still_published(row, org)]
        return OrgKeys(active=active, published=published)


async def create_key(
    session: AsyncSession, keyring: Keyring, org_id: uuid.UUID, alg: Algorithm, actor: audit.Actor
) -> str:
    """Generate, encrypt (AAD bound to the new row) and store an active key; audited. Returns its kid."""
    key = generate_signing_key(alg)
    row_id = uuid.uuid4()
    await signing_keys.add(
        session,
        org_id,
        key_row_id=row_id,
        kid=key.kid,
        alg=key.alg,
        public_jwk=key.public_jwk,
        private_key_enc=keyring.encrypt(
            key.private_pem, aad_for("signing_keys", "private_key_enc", str(org_id), str(row_id))
        ),
    )
    await audit.record(
        session,
        org_id,
        actor=actor,
        action="signing_key.created",
        target_type="signing_key",
        target_id=key.kid,
        detail={"alg": key.alg},
    )
    return key.kid


async def ensure_key(
    session: AsyncSession, keyring: Keyring, org_id: uuid.UUID, alg: Algorithm, actor: audit.Actor
) -> None:
    """Create an active key for ``alg`` unless the org has one (e.g. a client asks for ES256)."""
    if not any(k.status == "active" and k.alg == alg for k in await signing_keys.list_all(session, org_id)):
        await create_key(session, keyring, org_id, alg, actor)


def as_algorithm(value: str) -> Algorithm:
    """``value`` as a supported signing algorithm, or ValueError."""
    return _alg(value)


def _alg(value: str) -> Algorithm:
    for alg in SIGNING_ALGORITHMS:
        if value == alg:
            return alg
    raise ValueError(f"unknown signing algorithm {value!r} in the database")
