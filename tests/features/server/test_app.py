"""The assembled public app: error shapes and headers on every path, including a crash."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from namoid import audit
from namoid.app import create_public_app
from namoid.services import Services
from namoid.settings import Settings
from namoid.tenancy import organizations
from tests.features.conftest import served_routes

ADMIN = audit.Actor("admin", "test")


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_public_app(services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://localhost:8443") as http:
        yield http


@pytest.fixture
def crash_landing_page(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    async def boom(*_: object) -> None:
        raise RuntimeError("database exploded with token=abc123secretvalue")

    dev = Settings(**(services.settings.model_dump() | {"dev_mode": True}))
    monkeypatch.setattr(services, "settings", dev)  # the dev landing page lists orgs
    monkeypatch.setattr(organizations, "list_all", boom)


@pytest.mark.usefixtures("crash_landing_page")
async def test_crash_is_a_json_server_error_with_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 500
    assert response.json() == {"error": "server_error"}
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-request-id"]
    assert "abc123secretvalue" not in response.text


@pytest.mark.usefixtures("crash_landing_page")
async def test_crash_is_an_error_page_for_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "exploded" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_unknown_paths_and_orgs_are_404(client: httpx.AsyncClient) -> None:
    as_json = await client.get("/o/nobody/.well-known/openid-configuration")
    assert as_json.status_code == 404 and as_json.json()["error"] == "not_found"
    as_html = await client.get("/o/nobody/login", headers={"accept": "text/html"})
    assert as_html.status_code == 404 and "<html" in as_html.text


async def test_method_not_allowed_is_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert response.status_code == 405


async def test_readyz_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}
    assert response.headers["cache-control"] == "no-store"


async def test_client_hanging_up_mid_body_is_not_a_server_error(services: Services) -> None:
    org = await organizations.create(
        services.db, services.keyring, "hangup-" + os.urandom(3).hex(), None, ADMIN
    )
    app = create_public_app(services)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": f"/o/{org.slug}/token",
        "raw_path": f"/o/{org.slug}/token".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"100")],
        "client": ("203.0.113.9", 1234),
        "server": ("localhost", 8443),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400


async def test_the_host_header_never_reaches_an_answer(services: Services, client: httpx.AsyncClient) -> None:
    """Absolute URLs come from NAMOID_BASE_URL only: a forged Host (a poisoned cache, a link in a
    phishing mail) never shows up in a redirect or a page, with or without a trailing slash."""
    org = await organizations.create(
        services.db, services.keyring, f"host-{uuid.uuid4().hex[:8]}", "Host", ADMIN
    )
    paths = sorted(
        {path.replace("{org}", org.slug) for method, path in served_routes(services) if method == "GET"}
    )
    assert f"/o/{org.slug}/authorize" in paths
    for path in [*paths, *(path + "/" for path in paths), "/static/", "/o/", f"/o/{org.slug}/"]:
        response = await client.get(path, headers={"host": "evil.example"})
        assert response.status_code < 500, path
        assert "evil.example" not in str(response.headers).lower() + response.text.lower(), path
        if response.status_code in (301, 302, 303, 307, 308):
            assert response.headers["location"].startswith(("/", services.settings.base_url + "/")), path


async def test_no_trailing_slash_redirect(client: httpx.AsyncClient) -> None:
    """No slash redirects at all: Starlette builds them from the Host header."""
    response = await client.get("/o/acme/authorize/", headers={"host": "evil.example"})
    assert response.status_code == 404 and "location" not in response.headers
