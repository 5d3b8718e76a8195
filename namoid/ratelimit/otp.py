"""One-time-code sending limits, and the OTP-flood alarm (OWASP Authentication Cheat Sheet).

A send counts against its IP (``otp.send.ip``), its destination (``otp.send.destination``)
and, last, the org's hourly budget (``otp.send.org_hourly``), which caps what an SMS/email
pumping attack can spend. When that budget refuses a send, the flood is reported as the
``otp.flood_suspected`` security event, at most once per ``otp.flood_alert`` window per org
(atomic in Redis, so once across every node), not once per refused request.

Destinations are keyed like accounts (``login.account_key``, an HMAC under the pepper): the
phone number or email address never reaches Redis or the event.
"""

from __future__ import annotations

from namoid import audit, events
from namoid.ratelimit.limiter import Decision
from namoid.ratelimit.login import account_key
from namoid.services import Services
from namoid.storage.models import Organization

FLOOD_BUDGET = "otp.send.org_hourly"


async def admit_send(
    services: Services, org: Organization, destination: str, ip: str | None
) -> Decision | None:
    """Count one code sent to ``destination`` (a normalized phone number or email) from ``ip``;
    the refusing decision if the IP, the destination or the org's budget says no."""
    limiter = services.limiter
    destination_key = account_key(services.keyring.pepper, org.id, destination)
    for policy, key in (
        ("otp.send.ip", limiter.ip_key(ip)),
        ("otp.send.destination", destination_key),
        (FLOOD_BUDGET, org.slug),
    ):
        decision = await limiter.hit(policy, key, org=org.slug)
        if not decision.allowed:
            if policy == FLOOD_BUDGET:
                await _announce_flood(services, org, decision, destination_key)
            return decision
    return None


async def _announce_flood(
    services: Services, org: Organization, budget: Decision, destination_key: str
) -> None:
    """``otp.flood_suspected``, unless this org's flood was already announced in this window."""
    if not (await services.limiter.hit("otp.flood_alert", org.slug, org=org.slug)).allowed:
        return
    async with services.db.tenant(org.id) as session:
        await events.raise_event(
            session,
            org.id,
            "otp.flood_suspected",
            actor=audit.Actor("system"),
            subject=events.opaque_subject(f"org:{org.slug}"),
            target_type="org",
            target_id=org.slug,
            outcome="denied",
            detail={
                "policy": budget.policy,
                "sent_in_window": budget.limit,  # the budget refused: its window is full
                "window_seconds": budget.window,
                "resets_in_seconds": budget.reset_after,
                "destination": destination_key,
            },
        )
