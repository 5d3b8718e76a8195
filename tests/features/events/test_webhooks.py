"""Webhook subscriptions: which receiver URLs are accepted, and audited changes."""

from __future__ import annotations

import uuid

import pytest

from namoid.events import webhooks
from namoid.outbound import OutboundPolicy
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy import organizations
from tests.features.conftest import ADMIN
from tests.features.token.conftest import audit_rows
from tests.resolver import resolving

HTTPS = "https://hooks.example.com/events"
#: The DNS these tests see: one public name, one that points inside, one that points at metadata.
DNS = resolving(
    {
        "hooks.example.com": "93.184.215.14",
        "inside.example.com": "10.1.2.3",
        "sneaky.example.com": "169.254.169.254",
        "localhost": "127.0.0.1",
    }
)
PRODUCTION = OutboundPolicy(resolve=DNS)
DEV = OutboundPolicy(allow_loopback=True, resolve=DNS)


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        (HTTPS, PRODUCTION),
        ("https://hooks.example.com:8443/namoid?tenant=acme", PRODUCTION),
        ("https://93.184.215.14/events", PRODUCTION),
        ("https://127.0.0.1:8443/events", DEV),
        ("http://127.0.0.1:8080/events", DEV),
        ("http://localhost/events", DEV),
        ("http://[::1]:9000/events", DEV),
    ],
)
async def test_accepted_urls(url: str, policy: OutboundPolicy) -> None:
    assert await webhooks.validate_url(url, policy) == url


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        ("http://127.0.0.1:8080/events", PRODUCTION),  # plain http only in embedded dev mode
        ("http://hooks.example.com/events", DEV),  # ... and only to loopback
        ("http://10.0.0.1/events", DEV),
        ("http://127.0.0.1.nip.io/events", DEV),
        ("https://user:pw@hooks.example.com/events", PRODUCTION),  # pragma: allowlist secret
        ("https://user@hooks.example.com/events", PRODUCTION),
        ("https://hooks.example.com/events#frag", PRODUCTION),
        ("https://hooks.example.com:99999/events", PRODUCTION),
        ("https://hooks.example.com:port/events", PRODUCTION),
        ("ftp://hooks.example.com/events", DEV),
        ("hooks.example.com/events", PRODUCTION),
        ("https:///events", PRODUCTION),
        ("https://hooks.example.com/a b", PRODUCTION),
        (" https://hooks.example.com/events", PRODUCTION),
        ("https://hooks.example.com/\x00", PRODUCTION),
        ("https://hooks.example.com/" + "a" * 2048, PRODUCTION),
        # issue 10 §4.4: internal destinations, by address or by a name that resolves to one
        ("https://169.254.169.254/", PRODUCTION),
        ("https://10.0.0.5:8443", PRODUCTION),
        ("https://[::1]", PRODUCTION),
        ("https://0x7f000001/", PRODUCTION),
        ("https://metadata.google.internal/", PRODUCTION),
        ("https://169.254.169.254/", DEV),  # dev mode opens loopback, nothing else
        ("https://metadata.google.internal./", DEV),
        ("https://inside.example.com/events", PRODUCTION),
        ("https://sneaky.example.com/events", DEV),
        ("https://localhost/events", PRODUCTION),
        ("https://nowhere.example.com/events", PRODUCTION),  # does not resolve: cannot be vetted
    ],
)
async def test_refused_urls(url: str, policy: OutboundPolicy) -> None:
    with pytest.raises(webhooks.InvalidWebhookUrl):
        await webhooks.validate_url(url, policy)


async def test_add_list_remove_are_audited(services: Services, org: Organization) -> None:
    added = await webhooks.add(services.db, org.id, HTTPS, policy=PRODUCTION, actor=ADMIN)
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
        await webhooks.add(services.db, org.id, "http://127.0.0.1/events", policy=PRODUCTION, actor=ADMIN)
    assert await webhooks.list_active(services.db, org.id) == []
    assert await audit_rows(services, org, "webhook.added") == []


async def test_another_orgs_webhook_cannot_be_removed(services: Services, org: Organization) -> None:
    other = await organizations.create(
        services.db, services.keyring, f"other-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    theirs = await webhooks.add(services.db, other.id, HTTPS, policy=PRODUCTION, actor=ADMIN)
    with pytest.raises(LookupError):
        await webhooks.remove(services.db, org.id, theirs.id, ADMIN)
    assert [s.id for s in await webhooks.list_active(services.db, other.id)] == [theirs.id]
