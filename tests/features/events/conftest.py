"""Fixtures for the event pipeline: quick webhook timeouts, a delivery, and event helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from namoid import events
from namoid.events.delivery import EventDelivery
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization, OutboxEntry, SecurityEvent
from namoid.storage.repos import event_outbox
from tests.conftest import Backend
from tests.features.conftest import ADMIN


@pytest.fixture
def settings(backend: Backend, tmp_path: Path, keyring_file: Path) -> Settings:
    """A receiver gets half a second to answer, so the slow-receiver tests stay quick."""
    return Settings(
        database_url=backend.app_url,
        data_dir=tmp_path / "data",
        keyring_file=keyring_file,
        dev_mode=False,
        webhook_timeout=0.5,
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
