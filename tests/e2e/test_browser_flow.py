"""A real browser (Debian's chromium, driven by Playwright) against ``namoid serve``:
authorize → login → consent → redirect back with code, state and iss, at phone width."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.e2e.test_server import Server, free_port, start, stop
from tests.features.authorize.conftest import pkce_pair

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--ignore-certificate-errors",  # the server's self-signed dev certificate
]
PHONE = {"width": 390, "height": 844}
EMAIL = "alice@example.com"
PASSWORD = "browser test password 1"
ORG = "e2e"


@dataclass
class Deployment:
    server: Server
    clients: dict[str, str]  # name → client_id: one client per test, so none sees another's consent
    callback: str

    @property
    def issuer(self) -> str:
        return f"{self.server.base_url}/o/{ORG}"

    def authorize_url(self, client: str, challenge: str, **extra: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.clients[client],
            "redirect_uri": self.callback,
            "scope": "openid profile email",
            "state": "browser-state",
            "nonce": "browser-nonce",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        } | extra
        return f"{self.issuer}/authorize?{urlencode(params)}"


def _cli(data_dir: Path, *args: str, stdin: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAMOID_")} | {
        "NAMOID_DATA_DIR": str(data_dir)
    }
    result = subprocess.run(
        [sys.executable, "-m", "namoid", *args, "--json"],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, str] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp_path = tmp_path_factory.mktemp("browser")
    data_dir = tmp_path / "data"
    callback = f"https://127.0.0.1:{free_port()}/cb"
    _cli(data_dir, "org", "create", ORG, "--name", "E2E Org")
    clients = {
        name: _cli(
            data_dir, "client", "create", "--org", ORG, "--name", name, "--type", "public",
            "--redirect-uri", callback,
        )["client_id"]
        for name in ("Browser RP", "Form Post RP")
    }  # fmt: skip
    _cli(
        data_dir, "user", "create", "--org", ORG, "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n"
    )
    server = start(tmp_path)
    try:
        yield Deployment(server, clients, callback)
    finally:
        stop(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Arrival:
    """What reached the relying party's (intercepted) callback."""

    method: str
    url: str
    form: dict[str, list[str]]


@pytest.fixture
def phone(browser: Browser, deployment: Deployment) -> Iterator[tuple[Page, list[Arrival]]]:
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True, java_script_enabled=True)
    arrivals: list[Arrival] = []

    def relying_party(route: Route) -> None:
        request = route.request
        arrivals.append(Arrival(request.method, request.url, parse_qs(request.post_data or "")))
        route.fulfill(status=200, content_type="text/plain", body="relying party")

    context.route(f"{deployment.callback}**", relying_party)
    page = context.new_page()
    yield page, arrivals
    context.close()


def _fits_the_screen(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _sign_in(page: Page, shots: Path | None = None) -> None:
    page.wait_for_url("**/login?req=*")
    email, password = page.get_by_label("Email"), page.get_by_label("Password")
    assert email.get_attribute("autocomplete") == "username" and email.get_attribute("name") == "email"
    assert password.get_attribute("autocomplete") == "current-password"
    assert password.get_attribute("name") == "password"
    assert _fits_the_screen(page)
    if shots is not None:
        page.screenshot(path=shots / "login.png", full_page=True)
    email.fill(EMAIL)
    password.fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_login_consent_and_redirect_in_a_real_browser(
    phone: tuple[Page, list[Arrival]], deployment: Deployment, tmp_path: Path
) -> None:
    page, arrivals = phone
    _, challenge = pkce_pair()
    page.goto(deployment.authorize_url("Browser RP", challenge))
    _sign_in(page, tmp_path)
    page.wait_for_url("**/consent?req=*")
    assert page.get_by_role("button", name="Allow").get_attribute("value") == "allow"
    assert page.get_by_role("button", name="Deny").get_attribute("value") == "deny"
    assert "Browser RP" in page.content() and _fits_the_screen(page)
    page.screenshot(path=tmp_path / "consent.png", full_page=True)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{deployment.callback}?*")
    assert [a.method for a in arrivals] == ["GET"]
    params = parse_qs(urlsplit(arrivals[0].url).query)
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == ["browser-state"] and params["iss"] == [deployment.issuer]
    for shot in ("login.png", "consent.png"):
        assert (tmp_path / shot).stat().st_size > 1000


def test_form_post_response_mode_submits_itself(
    phone: tuple[Page, list[Arrival]], deployment: Deployment
) -> None:
    page, arrivals = phone
    _, challenge = pkce_pair()
    page.goto(deployment.authorize_url("Form Post RP", challenge, response_mode="form_post", state="posted"))
    _sign_in(page)
    page.wait_for_url("**/consent?req=*")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(deployment.callback)
    assert [a.method for a in arrivals] == ["POST"]
    form = arrivals[0].form
    assert set(form) == {"code", "state", "iss"}
    assert form["state"] == ["posted"] and form["iss"] == [deployment.issuer]
