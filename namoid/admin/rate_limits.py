"""``/admin/v1/rate-limits``: the org's own rate limits (``ratelimit.overrides``, the service
``namoid org set-limit`` uses). An org admin may only tighten a policy; raising one is the
operator's decision, since every org shares the deployment the limits protect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from namoid.admin import scopes
from namoid.admin.access import Admin, requires
from namoid.admin.schemas import RateLimitList, RateLimitOut, RateLimitSet
from namoid.ratelimit import overrides, policies
from namoid.services import Services

router = APIRouter(prefix="/rate-limits", tags=["rate limits"])
Reader = Annotated[Admin, Depends(requires(scopes.LIMITS_READ))]
Writer = Annotated[Admin, Depends(requires(scopes.LIMITS_WRITE))]


def _listing(stored: dict[str, str]) -> RateLimitList:
    return RateLimitList(
        items=[
            RateLimitOut(policy=name, default=default, rate=stored.get(name))
            for name, default in policies.DEFAULTS.items()
        ]
    )


@router.get("", response_model=RateLimitList, summary="Every policy: its default and the org's own rate")
async def list_limits(request: Request, admin: Reader) -> RateLimitList:
    return _listing(dict(admin.org.rate_limits or {}))


@router.put("", response_model=RateLimitList, summary="Tighten one policy for the org (or reset it)")
async def set_limit(request: Request, admin: Writer, body: RateLimitSet) -> RateLimitList:
    services: Services = request.app.state.services
    stored = await overrides.set_limit(
        services.db, admin.org, body.policy, body.rate, admin.actor, bounded=True
    )
    return _listing(stored)
