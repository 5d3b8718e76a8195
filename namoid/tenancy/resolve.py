"""Resolving the organization named in a URL (``/o/{org}/...``), with a short cache."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from namoid.storage.db import Database
from namoid.storage.models import Organization
from namoid.storage.repos import organizations


@dataclass
class OrgDirectory:
    """Slug → active organization; unknown slugs are cached too (briefly) so floods stay cheap."""

    db: Database
    ttl: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, Organization | None]] = field(default_factory=dict)

    async def get(self, slug: str) -> Organization | None:
        cached = self._cache.get(slug)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        if len(slug) > 63:
            return None
        async with self.db.system() as session:
            org = await organizations.get_by_slug(session, slug)
        found = org if org is not None and org.status == "active" else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[slug] = (self.clock(), found)
        return found

    async def rate_limits(self, slug: str) -> dict[str, str]:
        """The org's stored rate-limit overrides (``ratelimit.overrides``), as cached here."""
        org = await self.get(slug)
        return dict(org.rate_limits or {}) if org is not None else {}

    def invalidate(self, slug: str) -> None:
        self._cache.pop(slug, None)


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
