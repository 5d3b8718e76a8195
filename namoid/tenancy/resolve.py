"""Resolving the organization named in a URL (``/o/{org}/...``), from this node's cache."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from namoid import nodecache
from namoid.storage.db import Database
from namoid.storage.models import Organization
from namoid.storage.repos import organizations

#: An org changes only through its repo, which clears every node's directory (``nodecache.ORG``).
ORG_CACHE_MAX_AGE = 300.0


@dataclass
class OrgDirectory:
    """Slug → active organization; unknown slugs are cached too so floods stay cheap."""

    db: Database
    caches: nodecache.Caches
    _cache: nodecache.NodeCache[str, Organization | None] = field(init=False)

    def __post_init__(self) -> None:
        self._cache = self.caches.cache(nodecache.ORG, ORG_CACHE_MAX_AGE)

    async def get(self, slug: str) -> Organization | None:
        if len(slug) > 63:
            return None
        return await self._cache.get_or_load(slug, lambda: self._load(slug))

    async def _load(self, slug: str) -> Organization | None:
        async with self.db.system() as session:
            org = await organizations.get_by_slug(session, slug)
        return org if org is not None and org.status == "active" else None

    async def rate_limits(self, slug: str) -> dict[str, str]:
        """The org's stored rate-limit overrides (``ratelimit.overrides``), as cached here."""
        org = await self.get(slug)
        return dict(org.rate_limits or {}) if org is not None else {}

    def invalidate(self, slug: str) -> None:
        self._cache.drop(slug)


async def current_org(request: Request, org: str) -> Organization:
    """FastAPI dependency for routes under ``/o/{org}``: unknown or disabled → 404."""
    directory: OrgDirectory = request.app.state.services.orgs
    found = await directory.get(org)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no organization {org!r}")
    return found


def issuer_for(base_url: str, slug: str) -> str:
    """The org's issuer identifier (DESIGN.md §2)."""
    return f"{base_url}/o/{slug}"
