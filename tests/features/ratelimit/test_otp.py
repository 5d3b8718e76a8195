"""OTP sending limits and the OTP-flood alarm (namoid.ratelimit.otp), on memory and on real Redis.

Run with ``-s`` to see the flood simulation's figures.
"""

from __future__ import annotations

import asyncio
import json

from namoid import events
from namoid.ratelimit.login import account_key
from namoid.ratelimit.otp import admit_send
from namoid.services import Services
from namoid.storage.models import Organization
from tests.features.ratelimit.conftest import UseLimits, audit_count, security_events

FLOOD = "otp.flood_suspected"


def _phone(i: int) -> str:
    return f"+9198{i:08d}"


async def test_destination_then_ip_limits_raise_no_flood(
    services: Services, org: Organization, use_limits: UseLimits, limiter_storage: dict[str, str | None]
) -> None:
    await use_limits({}, **limiter_storage)
    to_one = [await admit_send(services, org, _phone(1), f"198.51.100.{i}") for i in range(4)]
    assert [d.policy if d else None for d in to_one] == [None, None, None, "otp.send.destination"]
    from_one = [await admit_send(services, org, _phone(100 + i), "198.51.100.200") for i in range(11)]
    assert [d.policy if d else None for d in from_one] == [None] * 10 + ["otp.send.ip"]
    assert await security_events(services, org, FLOOD) == []


async def test_spent_org_budget_raises_one_flood_event_per_alert_window(
    services: Services, org: Organization, use_limits: UseLimits, limiter_storage: dict[str, str | None]
) -> None:
    await use_limits({"otp.send.org_hourly": "5/hour", "otp.flood_alert": "1/second"}, **limiter_storage)
    sent = [await admit_send(services, org, _phone(i), f"203.0.113.{i}") for i in range(9)]
    assert [d.policy if d else None for d in sent] == [None] * 5 + ["otp.send.org_hourly"] * 4
    [event] = await security_events(services, org, FLOOD)  # once, not once per refused send
    assert event.subject == events.opaque_subject(f"org:{org.slug}")
    assert event.payload["destination"] == account_key(services.keyring.pepper, org.id, _phone(5))
    assert {k: event.payload[k] for k in ("policy", "sent_in_window", "window_seconds")} == {
        "policy": "otp.send.org_hourly",
        "sent_in_window": 5,
        "window_seconds": 3600,
    }
    assert _phone(5)[1:] not in json.dumps([event.subject, event.payload])
    assert await audit_count(services, org, FLOOD) == 1
    await asyncio.sleep(1.1)  # the flood goes on after the alert window: one more event
    assert await admit_send(services, org, _phone(20), "203.0.113.20") is not None
    assert await admit_send(services, org, _phone(21), "203.0.113.21") is not None
    assert len(await security_events(services, org, FLOOD)) == 2


async def test_otp_flood_simulation(
    services: Services, org: Organization, use_limits: UseLimits, limiter_storage: dict[str, str | None]
) -> None:
    """SMS pumping against the production defaults: one number from rotating IPs, then many numbers."""
    await use_limits({}, **limiter_storage)
    one_destination = [
        await admit_send(services, org, _phone(0), f"198.51.{i // 250}.{i % 250}") is None for i in range(200)
    ]
    spread = [
        await admit_send(services, org, _phone(1 + i), f"203.0.{i // 250}.{i % 250}") is None
        for i in range(1500)
    ]
    flood_events = len(await security_events(services, org, FLOOD))
    print(
        f"\nOTP flood ({'Redis' if limiter_storage['redis_url'] else 'memory'}): one destination from "
        f"200 rotating IPs: {sum(one_destination)} of 200 sent; 1500 destinations from 1500 IPs: "
        f"{sum(spread)} sent, {1500 - sum(spread)} refused (the org's hourly budget: 1000); "
        f"{flood_events} otp.flood_suspected event"
    )
    assert sum(one_destination) == 3  # otp.send.destination: 3 per 10 minutes
    assert sum(spread) == 1000 - 3  # otp.send.org_hourly: 1000 an hour caps the SMS spend
    assert flood_events == 1
