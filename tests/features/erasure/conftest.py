"""Erasure tests: a user with distinctive personal data, a subscribed webhook receiver, and a walk
of every table of the whole database for that data (issue 13)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import MetaData, select

from namoid.events import webhooks
from namoid.events.delivery import EventDelivery
from namoid.jose import jwt
from namoid.outbound import policy_for
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import Organization, User
from tests.features.authorize.conftest import Flow, pkce_pair
from tests.features.conftest import ADMIN, MakeClient, MakeUser
from tests.features.events.conftest import receiver_tls, settings
from tests.features.revocation.conftest import REFRESHING, inspector
from tests.features.token.conftest import FULL_SCOPES
from tests.receiver import Receiver, receiver

__all__ = ["inspector", "receiver_tls", "settings"]

RISC = "https://schemas.openid.net/secevent/risc/event-type/"


@dataclass(frozen=True)
class Person:
    """The personal data a test gives a user, which must be gone after the purge."""

    email: str
    phone: str
    name: str

    @property
    def strings(self) -> tuple[str, str, str]:
        return (self.email, self.phone, self.name)


def new_person() -> Person:
    tag = uuid.uuid4().hex[:10]
    phone = "+9198" + "".join(str(secrets.randbelow(10)) for _ in range(8))
    return Person(f"erase-me-{tag}@example.com", phone, f"Asha Erasable {tag}")


@pytest.fixture
def person() -> Person:
    return new_person()


@pytest.fixture
async def subject(make_user: MakeUser, person: Person) -> User:
    return await make_user(email=person.email, phone=person.phone, name=person.name)


@pytest.fixture
async def erasure_flow(
    http: httpx.AsyncClient, services: Services, org: Organization, make_client: MakeClient, subject: User
) -> Flow:
    """A refreshing relying party and the subject, driven through the real browser flow."""
    rp = await make_client(
        grant_types=REFRESHING,
        scopes=FULL_SCOPES,
        redirect_uris=["https://rp.example/callback"],
    )
    verifier, challenge = pkce_pair()
    return Flow(http, services, org, rp, subject, verifier, challenge)


@pytest.fixture
def rx(services: Services, org: Organization, receiver_tls: tuple[Path, Path]) -> Iterator[Receiver]:
    """A relying party's SET receiver, subscribed to the org's events."""
    with receiver(cert=receiver_tls) as found:
        yield found


async def subscribe(services: Services, org: Organization, rx: Receiver) -> None:
    await webhooks.add(services.db, org.id, rx.url, policy=policy_for(services.settings), actor=ADMIN)


async def deliver(services: Services, org: Organization) -> None:
    delivery = EventDelivery(services)
    try:
        await delivery.run(orgs=[org])
    finally:
        await delivery.close()


def received_events(rx: Receiver) -> list[tuple[str, str]]:
    """(event type, subject ``sub``) of every SET the receiver got, in order."""
    found = []
    for token in rx.tokens():
        claims = jwt.unverified_claims(token)
        for event_type in claims["events"]:
            found.append((event_type, claims["sub_id"]["sub"]))
    return found


async def personal_data_left(owner_db: Database, person: Person) -> list[str]:
    """Every (table, column) of the whole database holding the person's email, phone or name.

    The tables are read from the database itself (not the models), every column of every
    row, rendered as text (JSON as JSON), compared case-insensitively.
    """
    metadata = MetaData()
    async with owner_db.engine.connect() as conn:
        await conn.run_sync(metadata.reflect)
        found = []
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).mappings():
                for column, value in row.items():
                    if value is None:
                        continue
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    lowered = text.casefold()
                    for needle in person.strings:
                        if needle.casefold() in lowered:
                            found.append(f"{table.name}.{column}")
    assert len(metadata.tables) > 20  # the walk saw the whole schema
    return sorted(set(found))
