"""The admin console in a real browser (Debian's chromium, Playwright) against ``namoid serve``, at
phone width (390 px) with JavaScript off (issue 16): an org admin signs in through the org's own
issuer, registers a client, rotates its secret, disables a user and reads the audit log, entirely
from the console; on SQLite (the embedded default) and on PostgreSQL (production settings)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from namoid.crypto.tls import ensure_dev_certificate
from tests.conftest import Backend
from tests.e2e.test_browser_flow import CHROMIUM_ARGS, PASSWORD, PHONE
from tests.e2e.test_server import Server, _env, _production, start, stop

ADMIN_EMAIL = "asha@example.com"
USER_EMAIL = "vikram@example.com"


class Deployment:
    def __init__(self, server: Server, org: str) -> None:
        self.server, self.org = server, org

    @property
    def console(self) -> str:
        return f"{self.server.admin_url}/console/o/{self.org}"


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "namoid", *args, "--json"],
        env=_env(**env), input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


@pytest.fixture
def deployment(request: pytest.FixtureRequest, backend: Backend, tmp_path: Path) -> Iterator[Deployment]:
    """One served org with an ``org_admin`` and a user: the embedded default on SQLite, production
    settings on the shared PostgreSQL database."""
    settings: dict[str, str] = {}
    cafile = None
    if backend.name == "postgres":
        shutil.copy2(request.getfixturevalue("keyring_file"), tmp_path / "keyring.json")
        cafile, key = ensure_dev_certificate(tmp_path / "tls")
        settings = _production(backend, tmp_path, (cafile, key))
    org = f"adm-{uuid.uuid4().hex[:8]}"
    server = start(tmp_path, cafile, **settings)
    env = settings | {
        "NAMOID_BASE_URL": server.base_url,
        "NAMOID_ADMIN_BASE_URL": server.admin_url or "",
        "NAMOID_DATA_DIR": str(tmp_path / "data"),
    }
    try:
        _cli(env, "org", "create", org)
        for email in (ADMIN_EMAIL, USER_EMAIL):
            _cli(
                env,
                "user",
                "create",
                "--org",
                org,
                "--email",
                email,
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )
        _cli(env, "user", "grant-role", "--org", org, "--email", ADMIN_EMAIL, "--role", "org_admin")
        yield Deployment(server, org)
    finally:
        stop(server)


@pytest.fixture
def browser(deployment: Deployment, chromium: Path) -> Iterator[Browser]:
    """Debian's chromium, started after the deployment: Playwright's sync API runs an event loop,
    and setting up a backend needs one of its own."""
    with sync_playwright() as playwright:
        started = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        yield started
        started.close()


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _secret(page: Page) -> str:
    return page.get_by_role("textbox", name="Client secret").input_value()


def test_an_org_admin_runs_the_org_from_the_console(browser: Browser, deployment: Deployment) -> None:
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True, java_script_enabled=False)
    page = context.new_page()
    page.goto(deployment.console)
    page.wait_for_url(f"{deployment.server.base_url}/o/{deployment.org}/login?req=*")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(deployment.console)
    assert page.get_by_role("heading", name="Dashboard").is_visible() and _fits(page)

    nav = page.get_by_role("navigation", name="Admin console")
    nav.get_by_role("link", name="Clients").click()
    page.get_by_label("Name", exact=True).fill("Shop")
    page.get_by_label("Type").select_option("confidential")
    page.get_by_label("Redirect URIs (one a line)").fill("https://shop.example/callback")
    page.get_by_role("button", name="Register client").click()
    assert "was registered as" in page.get_by_role("status").inner_text() and _fits(page)
    first = _secret(page)
    page.get_by_role("button", name="Rotate the secret of Shop").click()
    assert "was replaced" in page.get_by_role("status").inner_text()
    second = _secret(page)
    assert len(second) >= 43 and second != first

    nav.get_by_role("link", name="Users").click()
    page.get_by_label("Search by part of the email or name").fill("vikram")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name=f"Disable {USER_EMAIL}").click()
    assert page.get_by_role("status").inner_text().startswith("The user was disabled") and _fits(page)
    assert page.get_by_role("button", name=f"Enable {USER_EMAIL}").is_visible()

    nav.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action (e.g. client.created)").fill("user.disabled")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("row")
    assert rows.count() == 2  # the header and the one entry
    assert "admin user:" in rows.nth(1).inner_text() and _fits(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export these entries (JSON Lines, with seals)").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["user.disabled"]
    context.close()
