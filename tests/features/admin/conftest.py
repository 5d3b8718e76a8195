"""Fixtures for the admin API: the real admin app over ASGI, and admin tokens from the real
token endpoint (client_credentials with the admin API as the resource, RFC 8707)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from namoid.admin.app import create_admin_app
from namoid.admin.scopes import ADMIN_SCOPES
from namoid.oauth import client_registry
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.models import Organization
from namoid.tenancy import organizations
from tests.conftest import Backend
from tests.features.authorize.conftest import form_inputs
from tests.features.conftest import ADMIN, PASSWORD, MakeClient, RegisteredClient
from tests.features.token.conftest import basic

API = "/admin/v1"
#: A webhook receiver the admin tests may register: loopback, allowed explicitly (``settings``).
HOOK_URL = "https://127.0.0.1:8443/namoid"


@pytest.fixture
def settings(backend: Backend, tmp_path: Path, keyring_file: Path) -> Settings:
    """Production settings that accept a loopback webhook receiver (``HOOK_URL``), as a
    deployment that allows an internal network explicitly does."""
    return Settings(
        database_url=backend.app_url,
        data_dir=tmp_path / "data",
        keyring_file=keyring_file,
        dev_mode=False,
        outbound_allow_networks=["127.0.0.1/32"],
    )


@dataclass(frozen=True)
class AdminClient:
    registered: RegisteredClient
    org: Organization

    @property
    def client_id(self) -> str:
        return self.registered.client_id


async def admin_client(
    services: Services, make_client: MakeClient, org: Organization, scopes: Sequence[str] = ADMIN_SCOPES
) -> AdminClient:
    """A confidential client_credentials client of ``org`` granted ``scopes`` of the admin API."""
    registered = await make_client(
        org, grant_types=["client_credentials"], redirect_uris=[], scopes=["profile"]
    )
    await client_registry.set_admin_scopes(services.db, org.id, registered.client_id, scopes, ADMIN)
    return AdminClient(registered, org)


async def token_response(
    http: httpx.AsyncClient, services: Services, client: AdminClient, **form: str
) -> httpx.Response:
    form.setdefault("grant_type", "client_credentials")
    form.setdefault("resource", services.settings.admin_resource)
    return await http.post(
        f"/o/{client.org.slug}/token",
        data=form,
        headers=basic(client.client_id, client.registered.secret),
    )


async def admin_token(http: httpx.AsyncClient, services: Services, client: AdminClient, **form: str) -> str:
    response = await token_response(http, services, client, **form)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def admin_http(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The real admin app in-process, at the configured admin origin."""
    transport = httpx.ASGITransport(app=create_admin_app(services), client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.admin_base_url) as client:
        yield client


@pytest.fixture
async def other_org(services: Services) -> Organization:
    return await organizations.create(services.db, services.keyring, "org-b-" + _suffix(), "Org B", ADMIN)


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
async def org_admin(services: Services, make_client: MakeClient, org: Organization) -> AdminClient:
    return await admin_client(services, make_client, org)


@pytest.fixture
async def token(http: httpx.AsyncClient, services: Services, org_admin: AdminClient) -> str:
    """An access token of ``org`` for the admin API with every admin scope."""
    return await admin_token(http, services, org_admin)


def location_path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class AdminBrowser:
    """One browser: the public origin's cookies in ``public``, the admin origin's in ``admin``."""

    def __init__(self, public: httpx.AsyncClient, admin: httpx.AsyncClient, org: Organization) -> None:
        self.public, self.admin, self.org = public, admin, org

    @property
    def base(self) -> str:
        return f"/console/o/{self.org.slug}"

    async def sign_in(self, email: str, path: str = "", password: str = PASSWORD) -> httpx.Response:
        """Open ``path`` of the console, sign in at the issuer's login page, and follow the
        answer back; the console's final response."""
        client = self.admin
        response = await client.get(self.base + path)
        for _ in range(16):
            if response.status_code != 303:
                return response
            location = response.headers["location"]
            if location.startswith("https://"):  # a relative location stays on the same origin
                client = self.public if location.startswith(str(self.public.base_url)) else self.admin
            if urlsplit(location).path.endswith("/login"):
                page = await self.public.get(location_path(location))
                fields = form_inputs(page.text) | {"email": email, "password": password}
                response = await self.public.post(f"/o/{self.org.slug}/login", data=fields)
                continue
            response = await client.get(location_path(location))
        raise AssertionError("too many redirects")

    async def form(self, path: str) -> dict[str, str]:
        page = await self.admin.get(self.base + path)
        assert page.status_code == 200, page.text
        return form_inputs(page.text)

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return await self.admin.post(self.base + path, data=data)


@pytest.fixture
def browser(http: httpx.AsyncClient, admin_http: httpx.AsyncClient, org: Organization) -> AdminBrowser:
    return AdminBrowser(http, admin_http, org)
