"""Every provider flow at DEBUG (httpx and httpcore included): no upstream token, code or secret is
logged or audited (tests/audit_scan.py scans both), and no upstream error text reaches a page."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from namoid import audit
from namoid.logs import configure_logging
from namoid.providers import access, exchange_policy
from namoid.providers.upstream import client_for
from namoid.storage.models import AuditEntry, ProviderToken, UpstreamProvider, utcnow
from tests.audit_scan import UPSTREAM_ISSUED, findings, log_findings, upstream_issued
from tests.features.authorize.conftest import Flow
from tests.features.providers.test_signin_flow import _callback, _connect, _sign_in_trip
from tests.features.providers.test_token_exchange import _exchange, _namoid_access_token
from tests.hostile_upstream import Upstream

ADMIN = audit.Actor("admin", "test")


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The real redacting root handler at DEBUG, writing into a buffer."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging("DEBUG", json_format=False, stream=buffer)
    for name in ("httpx", "httpcore", "namoid"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        for name in ("httpx", "httpcore", "namoid"):
            logging.getLogger(name).setLevel(logging.NOTSET)


async def _every_flow(flow: Flow, upstream: Upstream, provider: UpstreamProvider) -> None:
    assert (await _connect(flow, upstream)).status_code == 200  # connect from an account
    flow.http.cookies.clear()
    trip = await _sign_in_trip(flow, upstream)  # sign in with the provider
    upstream.id_token = upstream.sign(upstream.claims(trip.nonce, sub="upstream-user-1"))
    assert (await _callback(flow, upstream, state=trip.state)).status_code == 200
    flow.http.cookies.clear()
    trip = await _sign_in_trip(flow, upstream)  # a hostile answer: wrong nonce
    upstream.id_token = upstream.sign(upstream.claims("not-this-one", sub="upstream-user-1"))
    assert (await _callback(flow, upstream, state=trip.state)).status_code == 400
    await exchange_policy.allow(flow.services.db, flow.org.id, flow.rp.client_id, ["up"], ADMIN)
    async with flow.services.db.tenant(flow.org.id) as session:  # expired: the exchange refreshes
        await session.execute(update(ProviderToken).values(expires_at=utcnow() - timedelta(minutes=5)))
    flow.http.cookies.clear()
    subject = await _namoid_access_token(flow, "openid provider:up")
    refreshed = await _exchange(flow, subject)  # no refresh token stored: a clear refusal
    assert refreshed.status_code == 400
    services = flow.services
    assert await access.disconnect(
        services.db,
        services.keyring,
        client_for(services.settings),
        provider,
        flow.user.id,
        by="user",
        actor=ADMIN,
    )


async def test_no_upstream_value_reaches_a_log_line_or_an_audit_row(
    exchange_flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider, debug_log: io.StringIO
) -> None:
    await _every_flow(exchange_flow, upstream, upstream_provider)
    output = debug_log.getvalue()
    assert "HTTP Request: POST" in output  # httpx's debug logging was on and captured
    assert upstream.access_token in UPSTREAM_ISSUED and len(UPSTREAM_ISSUED) > 3
    assert log_findings(output.splitlines()) == []
    async with exchange_flow.services.db.tenant(exchange_flow.org.id) as session:
        rows = (
            await session.execute(select(AuditEntry.actor_id, AuditEntry.target_id, AuditEntry.detail))
        ).all()
    assert findings(rows) == []


def test_the_scan_finds_what_it_looks_for() -> None:
    """The scanner is not blind: a planted upstream value is found in a log line and an audit row."""
    planted = upstream_issued("planted-upstream-token-value-0123456789")
    assert log_findings([f"INFO something {planted}"]) != []
    assert findings([("actor", None, {"x": planted})]) != []
