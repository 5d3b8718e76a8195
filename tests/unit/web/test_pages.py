"""Public pages: landing, the security policy and security.txt (RFC 9116)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse

from namoid.settings import Settings
from namoid.tenancy import organizations
from namoid.web.pages import FIX_TARGETS, router, static_app
from namoid.web.templates import error_page

BASE = "https://id.example.in"


@dataclass(frozen=True)
class FakeOrg:
    slug: str
    name: str


@dataclass(frozen=True)
class StandInServices:
    settings: Settings
    db: object


async def failing_route(request: Request) -> HTMLResponse:
    return error_page(request, 400, "Sign-in failed", "The <client> is unknown.")


def make_app(*, dev: bool) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    app.add_api_route("/fail", failing_route)
    app.mount("/static", static_app, name="static")
    app.state.services = StandInServices(settings=Settings(base_url=BASE, dev_mode=dev), db=object())
    return app


@pytest.fixture
def list_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []

    async def list_all(db: object) -> list[FakeOrg]:
        calls.append(db)
        return [FakeOrg("acme", "Acme Corp"), FakeOrg("globex", "Globex <Inc>")]

    monkeypatch.setattr(organizations, "list_all", list_all)
    return calls


@pytest.fixture
async def dev_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(make_app(dev=True))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def prod_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(make_app(dev=False))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def fields(text: str) -> dict[str, list[str]]:
    """RFC 9116 §4: one ``Field: value`` per line."""
    parsed: dict[str, list[str]] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        assert sep and re.fullmatch(r"[A-Za-z-]+", name), line
        parsed.setdefault(name, []).append(value)
    return parsed


# --- security.txt -------------------------------------------------------------------------


async def test_security_txt(prod_client: httpx.AsyncClient) -> None:
    response = await prod_client.get("/.well-known/security.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    txt = fields(response.text)
    assert txt["Contact"] == ["mailto:security@namoid.in", "mailto:hello@namoid.in"]
    assert txt["Policy"] == [f"{BASE}/security"]
    assert txt["Canonical"] == [f"{BASE}/.well-known/security.txt"]
    assert txt["Preferred-Languages"] == ["en, hi"]
    assert txt["Acknowledgments"] == [f"{BASE}/security#hall-of-fame"]


async def test_security_txt_expires_within_a_year(prod_client: httpx.AsyncClient) -> None:
    """RFC 9116 §2.5.5: exactly one Expires, RFC 3339, in the future but less than a year ahead."""
    response = await prod_client.get("/.well-known/security.txt")
    (expires_text,) = fields(response.text)["Expires"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", expires_text)
    expires = datetime.fromisoformat(expires_text)
    now = datetime.now(UTC)
    assert now + timedelta(days=150) < expires < now + timedelta(days=365)


# --- /security ----------------------------------------------------------------------------


async def test_security_page_has_the_disclosure_policy(prod_client: httpx.AsyncClient) -> None:
    response = await prod_client.get("/security")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    for text in (
        'href="mailto:security@namoid.in"',
        'href="mailto:hello@namoid.in"',
        "48 hours",
        "5 business days",
        "Safe harbor",
        "Not covered",
        "Out of scope",
        "Hall of fame",
        "No reports acknowledged publicly yet. Be the first.",
        "90 days have passed since acknowledgement",
    ):
        assert text in page, text
    for severity, target in FIX_TARGETS:
        assert f'<tr><th scope="row">{severity}</th><td>{target}</td></tr>' in page


async def test_security_page_has_the_data_promises(prod_client: httpx.AsyncClient) -> None:
    page = (await prod_client.get("/security")).text
    for text in (
        "PKCE is mandatory on every OAuth flow",
        "AES-256-GCM",
        "DPDP Act 2023",
        "ap-south-1",
        "these are first-party assessments",
        "has not yet completed an independent third-party penetration test",
    ):
        assert text in page, text
    hosting = "<td>Compute, database, and cache (EC2, PostgreSQL, Redis)</td><td>ap-south-1</td>"
    assert f'<tr><th scope="row">Amazon Web Services</th>{hosting}</tr>' in page


@pytest.mark.parametrize("path", ["/", "/security", "/fail"])
async def test_pages_are_accessible_and_csp_clean(prod_client: httpx.AsyncClient, path: str) -> None:
    page = (await prod_client.get(path)).text
    assert '<html lang="en">' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<link rel="stylesheet" href="/static/namoid.css">' in page
    assert "<script" not in page and "<style" not in page and "style=" not in page


async def test_stylesheet_is_served(prod_client: httpx.AsyncClient) -> None:
    response = await prod_client.get("/static/namoid.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")


async def test_error_page_escapes_its_message(prod_client: httpx.AsyncClient) -> None:
    response = await prod_client.get("/fail")
    assert response.status_code == 400
    assert "Sign-in failed" in response.text
    assert "The &lt;client&gt; is unknown." in response.text


# --- landing page -------------------------------------------------------------------------


async def test_landing_lists_organizations_in_dev_mode(
    dev_client: httpx.AsyncClient, list_calls: list[object]
) -> None:
    response = await dev_client.get("/")
    assert response.status_code == 200
    page = response.text
    assert "OAuth 2.1 / OpenID Connect identity provider" in page
    assert 'href="/security"' in page and 'href="/.well-known/security.txt"' in page
    for slug in ("acme", "globex"):
        assert f'href="{BASE}/o/{slug}/.well-known/openid-configuration"' in page
    assert "Acme Corp" in page and "Globex &lt;Inc&gt;" in page
    assert len(list_calls) == 1


async def test_landing_hides_organizations_in_production(
    prod_client: httpx.AsyncClient, list_calls: list[object]
) -> None:
    response = await prod_client.get("/")
    assert response.status_code == 200
    assert 'href="/security"' in response.text
    assert "openid-configuration" not in response.text and "acme" not in response.text
    assert list_calls == []
