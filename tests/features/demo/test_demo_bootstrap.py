"""The dev-mode demo: org, public client and user created once; the password shown once, never logged."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import anyio
import pytest
from sqlalchemy import select, update

from namoid.crypto.passwords import verify_password
from namoid.oauth import client_registry
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, Client, Organization, User
from namoid.tenancy import demo, organizations
from tests.e2e.test_server import start, stop


async def move_demo_org_away(owner_db: Database) -> None:
    """Tests on the shared PostgreSQL database each start without a ``demo`` org."""
    async with owner_db.system() as session:
        await session.execute(
            update(Organization)
            .where(Organization.slug == demo.DEMO_SLUG)
            .values(slug=f"demo-old-{uuid.uuid4().hex[:8]}")
        )


@pytest.fixture
async def no_demo(owner_db: Database) -> None:
    await move_demo_org_away(owner_db)


@pytest.mark.usefixtures("no_demo")
async def test_first_start_creates_org_client_and_user(
    services: Services, owner_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    account = await demo.ensure_demo(services)

    assert account.email == demo.DEMO_EMAIL and account.password and len(account.password) >= 20
    org = await organizations.require(services.db, demo.DEMO_SLUG)
    client = await demo.demo_client(services, org)
    assert client is not None
    assert client.client_type == "public" and client.token_endpoint_auth_method == "none"
    assert client.redirect_uris == ["https://localhost:8443/demo/callback"]
    assert client.post_logout_redirect_uris == ["https://localhost:8443/demo"]
    assert client.scopes == ["openid", "profile", "email"] and client.first_party is False
    async with owner_db.system() as session:
        user = await session.scalar(select(User).where(User.org_id == org.id))
        entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.org_id == org.id)))
    assert user is not None and user.email == demo.DEMO_EMAIL
    assert user.password_hash and account.password not in user.password_hash
    assert await _password_ok(user.password_hash, account.password)
    assert {"org.created", "client.created", "user.created"} <= {e.action for e in entries}
    assert all(account.password not in str(e.detail) for e in entries)
    assert account.password not in caplog.text


async def _password_ok(stored: str, password: str) -> bool:
    return await anyio.to_thread.run_sync(verify_password, stored, password)


@pytest.mark.usefixtures("no_demo")
async def test_later_starts_change_nothing(services: Services, owner_db: Database) -> None:
    first = await demo.ensure_demo(services)
    second = await demo.ensure_demo(services)
    assert first.password is not None and second.password is None
    org = await organizations.require(services.db, demo.DEMO_SLUG)
    async with owner_db.system() as session:
        users = list(await session.scalars(select(User).where(User.org_id == org.id)))
    assert len(users) == 1
    clients = [c for c in await _clients(services, org) if c.name == demo.DEMO_CLIENT_NAME]
    assert len(clients) == 1
    assert "shown at the first start" in demo.console_message(second, "https://localhost:8443")
    assert first.password in demo.console_message(first, "https://localhost:8443")


async def _clients(services: Services, org: Organization) -> list[Client]:
    return list(await client_registry.list_all(services.db, org.id))


@pytest.mark.usefixtures("no_demo")
async def test_a_new_base_url_gets_its_own_demo_client(services: Services) -> None:
    await demo.ensure_demo(services)
    moved = services.settings.model_copy(update={"base_url": "https://localhost:9443"})
    services.settings = moved
    account = await demo.ensure_demo(services)
    assert account.password is None
    org = await organizations.require(services.db, demo.DEMO_SLUG)
    client = await demo.demo_client(services, org)
    assert client is not None and client.redirect_uris == ["https://localhost:9443/demo/callback"]


def _password_lines(log: str) -> list[str]:
    return [line.split("password:", 1)[1].strip() for line in log.splitlines() if "password:" in line]


def test_serve_prints_the_password_once_on_stdout(tmp_path: Path) -> None:
    first = start(tmp_path)
    stop(first)
    [password] = _password_lines(first.log())
    assert len(password) >= 20 and "REDACTED" not in password
    assert first.log().count(password) == 1  # printed, and not also logged

    (tmp_path / "server.log").rename(tmp_path / "first.log")
    second = start(tmp_path)
    stop(second)
    assert _password_lines(second.log()) == []
    assert "shown at the first start" in second.log() and password not in second.log()
