"""Concurrent token requests on one SQLite file never answer 500 (``database is locked``).

Within one process, write transactions queue on the ``Database``'s lock, not on SQLite's
busy timeout: with a timeout of 1 ms a burst still gets no 500 (before, writers polled for the
lock inside SQLite and some gave up after the timeout). Two app instances, each with its own
``Database`` (its own pool and lock, as two ``namoid serve`` workers have), share one file and
wait for each other through the busy timeout; every transaction takes the write lock at its
BEGIN, so none fails upgrading a read to a write.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from namoid.app import create_public_app
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage import db
from namoid.storage.db import Database
from namoid.storage.models import Organization, User
from tests.features.conftest import RegisteredClient
from tests.features.token.conftest import exchange, issue_code, post

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

BURST = 48  # requests in flight per app instance


def _app(services: Services) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_public_app(services))
    return httpx.AsyncClient(transport=transport, base_url=services.settings.base_url)


async def test_writers_in_one_process_queue_without_a_busy_timeout(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    services: Services,
    org: Organization,
    service_client: RegisteredClient,
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 1)
    own = Services(settings=settings, db=Database(settings.resolved_database_url), keyring=services.keyring)
    try:
        async with _app(own) as http:
            form = {"grant_type": "client_credentials"}
            responses = await asyncio.gather(
                *(post(http, org, "token", form, service_client) for _ in range(2 * BURST))
            )
    finally:
        await own.close()
    assert Counter(response.status_code for response in responses) == {200: 2 * BURST}


async def test_a_burst_of_writes_from_two_instances_gets_no_500(
    services: Services,
    settings: Settings,
    org: Organization,
    web_app: RegisteredClient,
    service_client: RegisteredClient,
    user: User,
) -> None:
    other = Services(settings=settings, db=Database(settings.resolved_database_url), keyring=services.keyring)
    codes = [await issue_code(services, org, web_app.client_id, user) for _ in range(BURST)]
    try:
        async with _app(services) as first, _app(other) as second:
            requests = [exchange(second, org, web_app, code, verifier) for code, verifier in codes]
            requests += [
                post(http, org, "token", {"grant_type": "client_credentials"}, service_client)
                for http in (first, second)
                for _ in range(BURST)
            ]
            responses = await asyncio.gather(*requests)
    finally:
        await other.close()
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 3 * BURST}, [r.text for r in responses if r.status_code != 200][:3]
