"""An organization's own rate limits, stored with the org (``organizations.rate_limits``).

An org's admins may only tighten a policy (``policies.within_default``): the limits protect the
whole deployment, so raising one is the operator's decision (``namoid org set-limit``, unbounded).
The limiter reads the stored overrides through the org directory's cache
(``OrgDirectory.rate_limits``): this process sees a change at once, others within its TTL.
"""

from __future__ import annotations

from namoid import audit
from namoid.ratelimit import policies
from namoid.storage.db import Database
from namoid.storage.models import Organization
from namoid.storage.repos import organizations as org_rows


async def set_limit(
    db: Database,
    org: Organization,
    policy: str,
    rate: str | None,
    actor: audit.Actor,
    *,
    bounded: bool,
) -> dict[str, str]:
    """Set ``policy``'s rate for ``org`` (None: back to the default), audited; the org's overrides.
    Every node's org directory drops the org when this commits (``set_settings`` announces it).

    ValueError for an unknown policy, a malformed rate or, when ``bounded``, one that loosens."""
    if policy not in policies.DEFAULTS:
        raise ValueError(f"unknown rate-limit policy {policy!r}")
    if rate is not None:
        policies.windows(rate)
        if bounded:
            policies.within_default(policy, rate)
    async with db.tenant(org.id) as session:
        current = await org_rows.get(session, org.id)
        if current is None:
            raise LookupError(f"no organization {org.slug!r}")
        limits = dict(current.rate_limits or {})
        previous = limits.pop(policy, None)
        if rate is not None:
            limits[policy] = rate
        await org_rows.set_settings(session, org.id, {"rate_limits": limits})
        await audit.record(
            session,
            org.id,
            actor=actor,
            action="org.rate_limit_set",
            target_type="rate_limit",
            target_id=policy,
            detail={"rate": rate, "previous": previous},
        )
    return limits
