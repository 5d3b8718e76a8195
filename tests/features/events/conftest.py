"""Fixtures for the event pipeline: quick webhook timeouts, a delivery, and event helpers.

Production mode, as deployed: receivers are https on 127.0.0.1 with the dev certificate
(trusted through NAMOID_WEBHOOK_CA_FILE), reachable because the outbound allow-list names
127.0.0.1/32 explicitly (NAMOID_OUTBOUND_ALLOW_NETWORKS), not because the default is weaker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from namoid import events
from namoid.crypto.tls import ensure_dev_certificate
from namoid.events.delivery import EventDelivery
from namoid.outbound import OutboundPolicy, policy_for
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization, OutboxEntry, SecurityEvent
from namoid.storage.repos import event_outbox
from tests.conftest import Backend
from tests.features.conftest import ADMIN
from tests.resolver import resolving

#: A receiver that is registered but never reached; it resolves (through ``policy``) to a public address.
PUBLIC_HOOK = "https://hooks.example.com/e"


@pytest.fixture(scope="session")
def receiver_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The receivers' certificate and key (for 127.0.0.1, localhost, ::1)."""
    return ensure_dev_certificate(tmp_path_factory.mktemp("receiver-tls"))


@pytest.fixture
def settings(
    backend: Backend, tmp_path: Path, keyring_file: Path, receiver_tls: tuple[Path, Path]
) -> Settings:
    """A receiver gets half a second to answer, so the slow-receiver tests stay quick."""
    return Settings(
        database_url=backend.app_url,
        data_dir=tmp_path / "data",
        keyring_file=keyring_file,
        dev_mode=False,
        webhook_timeout=0.5,
        webhook_ca_file=receiver_tls[0],
        outbound_allow_networks=["127.0.0.1/32"],
    )


@pytest.fixture
def policy(settings: Settings) -> OutboundPolicy:
    """The settings' outbound policy, with a DNS in which hooks.example.com is a public address."""
    return dataclasses.replace(
        policy_for(settings), resolve=resolving({"hooks.example.com": "93.184.215.14"})
    )


@pytest.fixture
async def delivery(services: Services) -> AsyncIterator[EventDelivery]:
    worker = EventDelivery(services)
    yield worker
    await worker.close()


async def raise_test_event(services: Services, org: Organization) -> SecurityEvent:
    async with services.db.tenant(org.id) as session:
        return await events.raise_event(
            session, org.id, "user.disabled", actor=ADMIN, subject=events.user_subject("u-1")
        )


async def outbox(services: Services, org: Organization) -> list[OutboxEntry]:
    """The org's outbox rows, oldest first."""
    async with services.db.tenant(org.id) as session:
        return list(reversed(await event_outbox.list_for_org(session, org.id)))
