"""The audit entry of a 429 (DESIGN.md §6 rule 6), one per refusing window, not one per request.

A flood of refused requests would otherwise write as many audit rows as it sends requests:
the first refusal for a (policy, key) in a minute (``ratelimit.refusal_audit``) is recorded as
``ratelimit.refused``; later ones are answered without a row. The key is not written (it may
be an account or a device identity); the request's IP is, as on every entry.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.ratelimit.limiter import Decision, Limiter

AUDIT_POLICY = "ratelimit.refusal_audit"


async def first_in_window(limiter: Limiter, org_slug: str, refused: Decision) -> bool:
    """True for the first refusal of its (policy, key) in the audit window: that one is audited."""
    return (await limiter.hit(AUDIT_POLICY, refused.policy, *refused.key, org=org_slug)).allowed


async def record(session: AsyncSession, org_id: uuid.UUID, refused: Decision, actor: audit.Actor) -> None:
    """The ``ratelimit.refused`` entry: which policy refused, its quota and when it reopens."""
    await audit.record(
        session,
        org_id,
        actor=actor,
        action="ratelimit.refused",
        target_type="ratelimit_policy",
        target_id=refused.policy,
        outcome="denied",
        detail={"limit": refused.limit, "window_seconds": refused.window, "retry_after": refused.reset_after},
    )
