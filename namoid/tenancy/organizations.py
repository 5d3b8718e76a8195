"""Creating and finding organizations."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, nodecache
from namoid.conflicts import StateConflict
from namoid.crypto.keyring import Keyring
from namoid.signing import ORG_KEY_ALG, create_key
from namoid.storage.db import Database
from namoid.storage.models import Organization
from namoid.storage.repos import invalidations, organizations

# A DNS-label-like slug: it appears in every issuer URL ({base}/o/{slug}).
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class OrganizationExists(StateConflict):
    pass


def validate_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise ValueError(
            f"invalid organization slug {slug!r}: use 1-63 lowercase letters, digits and inner hyphens"
        )
    return slug


async def create(
    db: Database,
    keyring: Keyring,
    slug: str,
    name: str | None,
    actor: audit.Actor,
    *,
    test_mode: bool = False,
    platform: bool = False,
) -> Organization:
    """Create an org with its first RS256 signing key (private half encrypted), audited.

    A ``test_mode`` org never sends email or SMS: its messages stay in its inbox (issue 11)."""
    org_id = uuid.uuid4()
    try:
        async with db.tenant(org_id) as session:
            return await create_in(
                session, keyring, org_id, slug, name, actor, test_mode=test_mode, platform=platform
            )
    except IntegrityError as exc:
        raise OrganizationExists(f"organization {slug!r} already exists") from exc


async def create_in(
    session: AsyncSession,
    keyring: Keyring,
    org_id: uuid.UUID,
    slug: str,
    name: str | None,
    actor: audit.Actor,
    *,
    test_mode: bool = False,
    platform: bool = False,
) -> Organization:
    """``create`` in the caller's transaction (a session of the tenant ``org_id``): it commits or
    fails with whatever else that transaction does."""
    validate_slug(slug)
    name = (name or slug).strip()
    if not name or len(name) > 200:
        raise ValueError("organization name must be 1-200 characters")
    if await organizations.get_by_slug(session, slug) is not None:
        raise OrganizationExists(f"organization {slug!r} already exists")
    if platform and await organizations.get_platform(session) is not None:
        raise OrganizationExists("the platform organization already exists")
    org = Organization(
        id=org_id, slug=slug, name=name, status="active", test_mode=test_mode, platform=platform
    )
    session.add(org)
    await session.flush()
    await invalidations.announce(session, nodecache.ORG, str(org_id))  # a cached unknown slug
    await audit.record(
        session,
        org_id,
        actor=actor,
        action="org.created",
        target_type="org",
        target_id=slug,
        detail={"test_mode": test_mode, "platform": platform} if test_mode or platform else None,
    )
    await create_key(session, keyring, org_id, ORG_KEY_ALG, actor)
    return org


async def get(db: Database, slug: str) -> Organization | None:
    async with db.system() as session:
        return await organizations.get_by_slug(session, slug)


async def require(db: Database, slug: str) -> Organization:
    org = await get(db, slug)
    if org is None:
        raise LookupError(f"no organization {slug!r}")
    return org


async def list_all(db: Database) -> Sequence[Organization]:
    async with db.system() as session:
        return await organizations.list_all(session)


#: Allowed range (seconds) of each per-org lifetime (DESIGN.md §3 has the defaults).
LIFETIME_BOUNDS: dict[str, tuple[int, int]] = {
    "code_ttl": (10, 600),
    "access_token_ttl": (60, 86400),
    "id_token_ttl": (60, 86400),
    "refresh_token_ttl": (3600, 365 * 86400),
    "refresh_idle_ttl": (600, 365 * 86400),
    "session_ttl": (300, 30 * 86400),
}


def check_lifetime(name: str, seconds: int) -> int:
    """``seconds`` if it lies within the bounds of lifetime ``name``, else ValueError."""
    low, high = LIFETIME_BOUNDS[name]
    if not low <= seconds <= high:
        raise ValueError(f"{name} must be between {low} and {high} seconds")
    return seconds


def validate_lifetimes(org: Organization, changes: dict[str, int]) -> dict[str, int]:
    """Check each lifetime against its bounds, and that the idle limit fits in the absolute one."""
    for name, seconds in changes.items():
        check_lifetime(name, seconds)
    idle = changes.get("refresh_idle_ttl", org.refresh_idle_ttl)
    if idle > changes.get("refresh_token_ttl", org.refresh_token_ttl):
        raise ValueError("refresh_idle_ttl cannot exceed refresh_token_ttl")
    return changes


async def set_lifetimes(db: Database, slug: str, changes: dict[str, int], actor: audit.Actor) -> Organization:
    """Change an org's token lifetimes (audited); nodes pick them up within the org cache's TTL."""
    org = await require(db, slug)
    validate_lifetimes(org, changes)
    async with db.tenant(org.id) as session:
        await organizations.set_lifetimes(session, org.id, changes)
        await audit.record(
            session,
            org.id,
            actor=actor,
            action="org.lifetimes_changed",
            target_type="org",
            target_id=slug,
            detail={"changed": [f"{name}={seconds}" for name, seconds in sorted(changes.items())]},
        )
    return await require(db, slug)
