"""Organizations (tenants). Not itself a tenant table: lookups happen before an org is known."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import nodecache
from namoid.storage.models import Organization
from namoid.storage.repos.invalidations import announce


async def create(session: AsyncSession, slug: str, name: str) -> Organization:
    org = Organization(slug=slug, name=name, status="active")
    session.add(org)
    await session.flush()
    await announce(session, nodecache.ORG, str(org.id))
    return org


async def get(session: AsyncSession, org_id: uuid.UUID) -> Organization | None:
    return await session.get(Organization, org_id)


async def get_by_slug(session: AsyncSession, slug: str) -> Organization | None:
    return await session.scalar(select(Organization).where(Organization.slug == slug))


async def get_platform(session: AsyncSession) -> Organization | None:
    """The platform organization (issue 16), if it was bootstrapped."""
    return await session.scalar(select(Organization).where(Organization.platform.is_(True)))


async def list_all(session: AsyncSession) -> Sequence[Organization]:
    return (await session.scalars(select(Organization).order_by(Organization.slug))).all()


async def set_lifetimes(session: AsyncSession, org_id: uuid.UUID, lifetimes: dict[str, int]) -> None:
    """Update the org's token lifetimes (column name → seconds)."""
    await _update(session, org_id, lifetimes)


async def set_audit_retention(session: AsyncSession, org_id: uuid.UUID, days: int) -> None:
    await _update(session, org_id, {"audit_retention_days": days})


async def set_settings(session: AsyncSession, org_id: uuid.UUID, changes: dict[str, object]) -> None:
    """Update settings columns of the org (validated by the service that owns them)."""
    await _update(session, org_id, changes)


async def set_erasure_grace(session: AsyncSession, org_id: uuid.UUID, days: int) -> None:
    await _update(session, org_id, {"erasure_grace_days": days})


async def _update(session: AsyncSession, org_id: uuid.UUID, values: Mapping[str, object]) -> None:
    """Set columns of the org; every node's org directory drops it once this commits."""
    await session.execute(update(Organization).where(Organization.id == org_id).values(**values))
    await announce(session, nodecache.ORG, str(org_id))
