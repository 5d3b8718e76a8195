"""The newcomer's demo in a real browser (Debian's chromium via Playwright) against ``namoid serve``.

Landing page → "Try signing in" → login → consent → the demo app shows the verified tokens →
sign out back to the demo page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.test_server import Server, start, stop

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--ignore-certificate-errors",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start(tmp_path_factory.mktemp("demo-browser"))
    yield server
    stop(server)


def _demo_password(server: Server) -> str:
    match = re.search(r"password: (\S+)", server.log())
    assert match, server.log()
    return match.group(1)


@pytest.fixture
def page(server: Server) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = browser.new_context(ignore_https_errors=True, base_url=server.base_url)
        yield context.new_page()
        context.close()
        browser.close()


def test_demo_sign_in_in_a_real_browser(server: Server, page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="Try signing in").click()
    page.wait_for_url("**/demo")
    page.get_by_role("link", name="Sign in with NamoID").click()

    page.wait_for_url(re.compile(r"/o/demo/login\?"))
    page.get_by_label("Email").fill("demo@example.com")
    page.get_by_label("Password").fill(_demo_password(server))
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(re.compile(r"/o/demo/consent\?"))
    assert "NamoID demo app" in page.content()
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(re.compile(r"/demo/callback\?"))
    expect(page.get_by_role("heading", name="Signed in", exact=True)).to_be_visible()
    text = page.content()
    assert f"{server.base_url}/o/demo" in text and "demo@example.com" in text and "at+jwt" in text
    assert "__Host-namoid_demo_rp" not in {c["name"] for c in page.context.cookies()}

    page.get_by_role("link", name="Sign out").click()
    page.wait_for_url(re.compile(r"/o/demo/logout"))
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/demo")
    expect(page.get_by_role("heading", name="Try signing in")).to_be_visible()


def test_wrong_password_stays_on_the_login_page(server: Server, page: Page) -> None:
    page.goto("/demo/start")
    page.wait_for_url(re.compile(r"/o/demo/login\?"))
    page.get_by_label("Email").fill("demo@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert "/o/demo/login" in page.url
