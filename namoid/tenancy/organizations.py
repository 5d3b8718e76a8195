"""Creating and finding organizations."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from namoid import audit
from namoid.crypto.keyring import Keyring
from namoid.signing import create_key
from namoid.storage.db import Database
from namoid.storage.models import Organization
from namoid.storage.repos import organizations

# A DNS-label-like slug: it appears in every issuer URL ({base}/o/{slug}).
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class OrganizationExists(ValueError):
    pass


def validate_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise ValueError(
            f"invalid organization slug {slug!r}: use 1-63 lowercase letters, digits and inner hyphens"
        )
    return slug


async def create(
    db: Database, keyring: Keyring, slug: str, name: str | None, actor: audit.Actor
) -> Organization:
    """Create an org with its first RS256 signing key (private half encrypted), audited."""
    validate_slug(slug)
    name = (name or slug).strip()
    if not name or len(name) > 200:
        raise ValueError("organization name must be 1-200 characters")
    org_id = uuid.uuid4()
    try:
        async with db.tenant(org_id) as session:
            if await organizations.get_by_slug(session, slug) is not None:
                raise OrganizationExists(f"organization {slug!r} already exists")
            org = Organization(id=org_id, slug=slug, name=name, status="active")
            session.add(org)
            await session.flush()
            await audit.record(
                session, org_id, actor=actor, action="org.created", target_type="org", target_id=slug
            )
            await create_key(session, keyring, org_id, "RS256", actor)
    except IntegrityError as exc:
        raise OrganizationExists(f"organization {slug!r} already exists") from exc
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
