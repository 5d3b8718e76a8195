"""Fixtures for feature tests: an org with clients and users, and the real app over ASGI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from namoid import audit
from namoid.accounts import users
from namoid.app import create_public_app
from namoid.oauth import client_metadata, client_registry
from namoid.services import Services
from namoid.storage.models import Client, Organization, User
from namoid.tenancy import organizations

ADMIN = audit.Actor("admin", "test")
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class RegisteredClient:
    client: Client
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.client.client_id


@pytest.fixture
async def org(services: Services) -> Organization:
    return await organizations.create(
        services.db, services.keyring, f"org-{uuid.uuid4().hex[:8]}", "Test Org", ADMIN
    )


MakeClient = Callable[..., Awaitable[RegisteredClient]]
MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_client(services: Services, org: Organization) -> MakeClient:
    """Register a client in ``org``: ``await make_client(client_type="public", redirect_uris=[...])``."""

    async def make(target: Organization | None = None, **fields: Any) -> RegisteredClient:
        fields.setdefault("name", "Test App")
        fields.setdefault("client_type", "confidential")
        fields.setdefault("redirect_uris", ["https://rp.example/callback"])
        meta = client_metadata.validate(**fields)
        client, secret = await client_registry.register(
            services.db, services.keyring, (target or org).id, meta, ADMIN
        )
        return RegisteredClient(client, secret)

    return make


@pytest.fixture
def make_user(services: Services, org: Organization) -> MakeUser:
    """Create a user in ``org`` with password ``PASSWORD``."""

    async def make(target: Organization | None = None, **fields: Any) -> User:
        fields.setdefault("email", f"user-{uuid.uuid4().hex[:8]}@example.com")
        fields.setdefault("password", PASSWORD)
        fields.setdefault("phone", None)
        fields.setdefault("name", "Test User")
        return await users.create(services.db, (target or org).id, actor=ADMIN, **fields)

    return make


def served_routes(services: Services) -> set[tuple[str, str]]:
    """Every (method, path) the public app serves, routes of included routers too."""
    app = create_public_app(services)
    while not isinstance(app, FastAPI):  # unwrap the outer ASGI middleware
        app = app.app  # type: ignore[attr-defined]
    found = set()
    for route in app.routes:
        # FastAPI keeps an included router as one lazy entry; its effective routes carry the full paths.
        for effective in getattr(route, "effective_route_contexts", lambda r=route: [r])():
            for method in getattr(effective, "methods", None) or ():
                found.add((method, effective.path))
    return found


@pytest.fixture
async def http(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The real public app in-process; ``base_url`` is the configured origin."""
    transport = httpx.ASGITransport(app=create_public_app(services), client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.base_url) as client:
        yield client
