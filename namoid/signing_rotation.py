"""Rotating an org's token-signing keys and removing retired keys (DESIGN.md §3).

A rotation creates a new active key for an algorithm, which signs from then on, and
retires the previous one. A retired key stays in the JWKS for its publication window
(``namoid.signing.publication_window``: until every token it signed has expired) and is
then deleted, by the next rotation or by ``prune_signing_keys`` (for the worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, events
from namoid.crypto.keyring import Keyring
from namoid.jose.keys import Algorithm
from namoid.signing import SigningKeyStore, create_key, publication_window, still_published
from namoid.storage.db import Database
from namoid.storage.models import Organization, SigningKey, utcnow
from namoid.storage.repos import signing_keys
from namoid.tenancy import organizations


@dataclass(frozen=True, slots=True)
class Rotation:
    kid: str
    alg: Algorithm
    retired: list[str]
    removed: list[str]


async def rotate_signing_key(
    db: Database,
    keyring: Keyring,
    signing: SigningKeyStore,
    org: Organization,
    alg: Algorithm,
    actor: audit.Actor,
) -> Rotation:
    """Make a new ``alg`` key active, retire the old one, remove expired ones; all audited,
    and the rotation raised as the ``signing_key.rotated`` security event.

    Other processes drop their cached keys when this commits (``nodecache.SIGNING_KEYS``),
    or, if they do not hear it, when their signing cache expires (``SigningKeyStore.ttl``);
    until then they sign with the retired key, which is still published.
    """
    now = utcnow()
    async with db.tenant(org.id) as session:
        await signing_keys.lock_for_rotation(session, org.id)
        retired = [key.kid for key in await signing_keys.retire_active(session, org.id, alg, now)]
        kid = await create_key(session, keyring, org.id, alg, actor)
        await events.raise_event(
            session,
            org.id,
            "signing_key.rotated",
            actor=actor,
            subject=events.opaque_subject(kid),
            target_type="signing_key",
            target_id=kid,
            detail={"alg": alg, "retired_kids": retired},
        )
        removed = await _remove_unpublished(session, org, actor, now)
    signing.invalidate(org.id)
    return Rotation(kid=kid, alg=alg, retired=retired, removed=removed)


async def _remove_unpublished(
    session: AsyncSession, org: Organization, actor: audit.Actor, now: datetime
) -> list[str]:
    """Delete the org's retired keys whose publication window has passed; audit each."""
    expired = await signing_keys.retired_before(session, org.id, now - publication_window(org))
    await signing_keys.remove(session, org.id, [key.id for key in expired])
    for key in expired:
        await audit.record(
            session,
            org.id,
            actor=actor,
            action="signing_key.removed",
            target_type="signing_key",
            target_id=key.kid,
            detail={"alg": key.alg, "retired_at": key.retired_at.isoformat() if key.retired_at else None},
        )
    return [key.kid for key in expired]


async def prune_signing_keys(db: Database, signing: SigningKeyStore, actor: audit.Actor) -> list[str]:
    """Remove every org's retired keys past their publication window; the kids removed."""
    removed: list[str] = []
    for org in await organizations.list_all(db):
        async with db.tenant(org.id) as session:
            gone = await _remove_unpublished(session, org, actor, utcnow())
        if gone:
            signing.invalidate(org.id)
            removed.extend(gone)
    return removed


async def list_signing_keys(db: Database, org: Organization) -> list[tuple[SigningKey, bool]]:
    """The org's signing keys, oldest first, each with whether its JWKS still publishes it."""
    async with db.tenant(org.id) as session:
        found = await signing_keys.list_all(session, org.id)
    return [(key, still_published(key, org)) for key in found]
