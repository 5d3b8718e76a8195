"""Delivery when the receiver misbehaves (RFC 8935 §2.3, §2.4): nothing lost, nothing on the request path."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from namoid.events import webhooks
from namoid.events.delivery import MAX_ATTEMPTS, EventDelivery, backoff
from namoid.outbound import policy_for
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization, utcnow
from tests.e2e.test_server import free_port
from tests.features.conftest import ADMIN, MakeClient
from tests.features.events.conftest import PUBLIC_HOOK, outbox, raise_test_event
from tests.features.token.conftest import audit_rows, post
from tests.receiver import Behaviour, receiver
from tests.resolver import ScriptedResolver


async def subscribe(services: Services, org: Organization, url: str) -> None:
    await webhooks.add(services.db, org.id, url, policy=policy_for(services.settings), actor=ADMIN)


async def test_refused_connection_backs_off_then_delivers(
    services: Services, org: Organization, delivery: EventDelivery, receiver_tls: tuple[Path, Path]
) -> None:
    port = free_port()  # nothing listens there yet
    await subscribe(services, org, f"https://127.0.0.1:{port}/events")
    event = await raise_test_event(services, org)
    start = utcnow()

    first = await delivery.run(now=start, orgs=[org])
    [row] = await outbox(services, org)
    assert (first.delivered, first.retried, first.failed) == (0, 1, 0)
    assert row.attempts == 1 and row.leased_until is None and row.delivered_at is None
    assert row.next_attempt_at == start + backoff(1) and row.last_error == "ConnectError"

    with receiver("accept", port=port, cert=receiver_tls) as rx:
        early = await delivery.run(now=start + backoff(1) - timedelta(seconds=1), orgs=[org])
        assert (early.delivered, early.retried, rx.received) == (0, 0, [])
        due = await delivery.run(now=start + backoff(1), orgs=[org])
    assert due.delivered == 1 and rx.jtis() == [event.id.hex]
    [row] = await outbox(services, org)
    assert row.attempts == 2 and row.delivered_at == start + backoff(1) and row.last_error is None


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert backoff(MAX_ATTEMPTS) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("fail", "HTTP 503"),
        ("garbage", "RemoteProtocolError"),
        ("hang", "ReadTimeout"),
        ("drip", "TimeoutError"),
    ],
)
async def test_unhealthy_receiver_is_retried_with_the_same_jti(
    services: Services,
    org: Organization,
    delivery: EventDelivery,
    behaviour: Behaviour,
    error: str,
    receiver_tls: tuple[Path, Path],
) -> None:
    with receiver(behaviour, cert=receiver_tls) as rx:
        await subscribe(services, org, rx.url)
        event = await raise_test_event(services, org)
        start = utcnow()
        began = time.monotonic()
        first = await delivery.run(now=start, orgs=[org])
        assert (
            time.monotonic() - began < 5
        )  # at most the delivery deadline (1 s here), never the receiver's pace
        [row] = await outbox(services, org)
        assert (first.retried, first.delivered, row.last_error) == (1, 0, error)
        assert row.next_attempt_at == start + backoff(1)

        rx.behaviour = "accept"
        rx.release.set()
        second = await delivery.run(now=start + backoff(1), orgs=[org])
    assert second.delivered == 1
    assert rx.jtis() == [event.id.hex, event.id.hex]
    assert rx.tokens()[0] == rx.tokens()[1]  # the very same SET, so the receiver can deduplicate


async def test_rfc8935_rejection_fails_for_good_and_is_audited(
    services: Services, org: Organization, delivery: EventDelivery, receiver_tls: tuple[Path, Path]
) -> None:
    with receiver("reject", cert=receiver_tls) as rx:
        await subscribe(services, org, rx.url)
        event = await raise_test_event(services, org)
        start = utcnow()
        report = await delivery.run(now=start, orgs=[org])
        later = await delivery.run(now=start + timedelta(days=1), orgs=[org])
    assert (report.failed, report.retried, later.failed, len(rx.received)) == (1, 0, 0, 1)
    [row] = await outbox(services, org)
    assert row.failed_at == start and row.last_error == "rejected: invalid_issuer"
    [entry] = await audit_rows(services, org, "webhook.rejected")
    assert entry.outcome == "failure" and entry.target_id == rx.url
    assert entry.detail == {"event": str(event.id), "attempts": 1, "error": "rejected: invalid_issuer"}


async def test_retries_run_out_then_the_row_fails_and_is_audited(
    services: Services, org: Organization, delivery: EventDelivery
) -> None:
    await subscribe(services, org, f"https://127.0.0.1:{free_port()}/events")
    event = await raise_test_event(services, org)
    moment = utcnow()
    outcomes = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = await delivery.run(now=moment, orgs=[org])
        outcomes.append((report.retried, report.failed))
        moment += backoff(attempt)
    assert outcomes == [(1, 0)] * (MAX_ATTEMPTS - 1) + [(0, 1)]
    [row] = await outbox(services, org)
    assert row.attempts == MAX_ATTEMPTS and row.failed_at is not None
    [entry] = await audit_rows(services, org, "webhook.delivery_failed")
    assert entry.detail == {"event": str(event.id), "attempts": MAX_ATTEMPTS, "error": "ConnectError"}
    assert (await delivery.run(now=moment + timedelta(days=1), orgs=[org])).retried == 0


async def test_token_requests_never_wait_for_a_hanging_webhook(
    services: Services,
    org: Organization,
    delivery: EventDelivery,
    http: httpx.AsyncClient,
    make_client: MakeClient,
    receiver_tls: tuple[Path, Path],
) -> None:
    machine = await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["api.read"])
    with receiver("hang", cert=receiver_tls) as rx:
        await subscribe(services, org, rx.url)
        await raise_test_event(services, org)  # queued, not sent
        response = await post(http, org, "token", {"grant_type": "client_credentials"}, machine)
        assert response.status_code == 200, response.text
        assert rx.received == []  # neither raising the event nor the request talked to the receiver
        report = await delivery.run(orgs=[org])
    assert report.retried == 1 and len(rx.received) == 1


async def test_a_removed_subscription_gets_nothing_more(
    services: Services, org: Organization, delivery: EventDelivery, receiver_tls: tuple[Path, Path]
) -> None:
    with receiver(cert=receiver_tls) as kept, receiver(cert=receiver_tls) as dropped:
        await subscribe(services, org, kept.url)
        await subscribe(services, org, dropped.url)
        before = await raise_test_event(services, org)
        [gone] = [s for s in await webhooks.list_active(services.db, org.id) if s.url == dropped.url]
        await webhooks.remove(services.db, org.id, gone.id, ADMIN)
        after = await raise_test_event(services, org)
        report = await delivery.run(orgs=[org])
    assert report.delivered == 2
    assert sorted(kept.jtis()) == sorted([before.id.hex, after.id.hex]) and dropped.received == []
    by_subscription = {row.subscription_id: row for row in await outbox(services, org)}
    assert by_subscription[gone.id].last_error == "subscription removed"
    assert by_subscription[gone.id].failed_at is not None and by_subscription[gone.id].attempts == 0
    [entry] = await audit_rows(services, org, "webhook.removed")
    assert entry.target_id == str(gone.id) and entry.detail == {"undelivered": 1}


async def test_a_receiver_that_now_resolves_inside_fails_at_once_and_is_audited(
    services: Services, org: Organization, settings: Settings
) -> None:
    """Issue 10 §4.4: checked at registration, and again at delivery (DNS changed in between)."""
    dns = ScriptedResolver({"hooks.example.com": [["93.184.215.14"], ["169.254.169.254"]]})
    policy = dataclasses.replace(policy_for(settings), resolve=dns)
    await webhooks.add(services.db, org.id, PUBLIC_HOOK, policy=policy, actor=ADMIN)
    event = await raise_test_event(services, org)
    delivery = EventDelivery(services, policy)
    try:
        start = utcnow()
        report = await delivery.run(now=start, orgs=[org])
        later = await delivery.run(now=start + timedelta(days=1), orgs=[org])
    finally:
        await delivery.close()
    assert (report.failed, report.retried, later.failed, later.retried) == (1, 0, 0, 0)
    assert dns.asked == ["hooks.example.com", "hooks.example.com"]
    error = "refused: hooks.example.com (169.254.169.254) is a cloud metadata address"
    [row] = await outbox(services, org)
    assert row.failed_at == start and row.attempts == 1 and row.last_error == error
    [entry] = await audit_rows(services, org, "webhook.refused_address")
    assert entry.outcome == "failure" and entry.target_id == PUBLIC_HOOK
    assert entry.detail == {"event": str(event.id), "attempts": 1, "error": error}
