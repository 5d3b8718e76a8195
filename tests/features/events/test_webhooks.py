"""Webhook subscriptions: which receiver URLs are accepted, and audited changes."""

from __future__ import annotations

import uuid

import pytest

from namoid.events import webhooks
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy import organizations
from tests.features.conftest import ADMIN
from tests.features.token.conftest import audit_rows

HTTPS = "https://hooks.example.com/events"


@pytest.mark.parametrize(
    ("url", "dev_mode"),
    [
        (HTTPS, False),
        ("https://hooks.example.com:8443/namoid?tenant=acme", False),
        ("https://203.0.113.9/events", False),
        ("http://127.0.0.1:8080/events", True),
        ("http://localhost/events", True),
        ("http://[::1]:9000/events", True),
    ],
)
def test_accepted_urls(url: str, dev_mode: bool) -> None:
    assert webhooks.validate_url(url, dev_mode=dev_mode) == url


@pytest.mark.parametrize(
    ("url", "dev_mode"),
    [
        ("http://127.0.0.1:8080/events", False),  # plain http only in embedded dev mode
        ("http://hooks.example.com/events", True),  # ... and only to loopback
        ("http://10.0.0.1/events", True),
        ("http://127.0.0.1.nip.io/events", True),
        ("https://user:pw@hooks.example.com/events", False),  # pragma: allowlist secret
        ("https://user@hooks.example.com/events", False),
        ("https://hooks.example.com/events#frag", False),
        ("https://hooks.example.com:99999/events", False),
        ("https://hooks.example.com:port/events", False),
        ("ftp://hooks.example.com/events", True),
        ("hooks.example.com/events", False),
        ("https:///events", False),
        ("https://hooks.example.com/a b", False),
        (" https://hooks.example.com/events", False),
        ("https://hooks.example.com/\x00", False),
        ("https://hooks.example.com/" + "a" * 2048, False),
    ],
)
def test_refused_urls(url: str, dev_mode: bool) -> None:
    with pytest.raises(webhooks.InvalidWebhookUrl):
        webhooks.validate_url(url, dev_mode=dev_mode)


async def test_add_list_remove_are_audited(services: Services, org: Organization) -> None:
    added = await webhooks.add(services.db, org.id, HTTPS, dev_mode=False, actor=ADMIN)
    assert [s.id for s in await webhooks.list_active(services.db, org.id)] == [added.id]
    await webhooks.remove(services.db, org.id, added.id, ADMIN)
    assert await webhooks.list_active(services.db, org.id) == []
    with pytest.raises(LookupError):
        await webhooks.remove(services.db, org.id, added.id, ADMIN)
    [created] = await audit_rows(services, org, "webhook.added")
    [removed] = await audit_rows(services, org, "webhook.removed")
    assert created.target_id == removed.target_id == str(added.id)
    assert created.detail == {"url": HTTPS} and removed.detail == {"undelivered": 0}


async def test_a_refused_url_writes_nothing(services: Services, org: Organization) -> None:
    with pytest.raises(webhooks.InvalidWebhookUrl):
        await webhooks.add(services.db, org.id, "http://127.0.0.1/events", dev_mode=False, actor=ADMIN)
    assert await webhooks.list_active(services.db, org.id) == []
    assert await audit_rows(services, org, "webhook.added") == []


async def test_another_orgs_webhook_cannot_be_removed(services: Services, org: Organization) -> None:
    other = await organizations.create(
        services.db, services.keyring, f"other-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    theirs = await webhooks.add(services.db, other.id, HTTPS, dev_mode=False, actor=ADMIN)
    with pytest.raises(LookupError):
        await webhooks.remove(services.db, org.id, theirs.id, ADMIN)
    assert [s.id for s in await webhooks.list_active(services.db, other.id)] == [theirs.id]
