"""The account console in a real browser (Debian's chromium, Playwright) against ``namoid serve``,
at phone width (390 px) with JavaScript off: sign in to the console, change the name, sign out
another browser (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.e2e import test_browser_flow as browser_flow
from tests.e2e.test_browser_flow import PASSWORD, PHONE, _cli
from tests.e2e.test_server import Server, start, stop

ORG = "console"
EMAIL = "ravi@example.com"
#: Debian's chromium, started once for the module (test_browser_flow.py's fixture).
browser = browser_flow.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp("console")
    data_dir: Path = tmp_path / "data"
    _cli(data_dir, "org", "create", ORG)
    _cli(
        data_dir, "user", "create", "--org", ORG, "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n"
    )
    served = start(tmp_path)
    try:
        yield served
    finally:
        stop(served)


def _context(browser: browser_flow.Browser) -> BrowserContext:
    return browser.new_context(viewport=PHONE, ignore_https_errors=True, java_script_enabled=False)


def _sign_in_to_the_console(context: BrowserContext, server: Server, path: str = "") -> Page:
    """Open the console: its own sign-in sends the browser to the org's login page and back."""
    page = context.new_page()
    page.goto(f"{server.base_url}/o/{ORG}/account{path}")
    page.wait_for_url(f"**/o/{ORG}/login?req=*")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.base_url}/o/{ORG}/account{path}")
    return page


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_sign_in_change_the_name_and_sign_out_another_browser(
    browser: browser_flow.Browser, server: Server
) -> None:
    elsewhere = _context(browser)
    other = _sign_in_to_the_console(elsewhere, server)
    here = _context(browser)
    page = _sign_in_to_the_console(here, server)
    assert page.get_by_role("heading", name="Your account").is_visible() and _fits(page)
    assert EMAIL in page.content()

    nav = page.get_by_role("navigation", name="Your account")
    nav.get_by_role("link", name="Profile and contacts").click()
    page.get_by_label("Your name").fill("Ravi Kumar")
    page.get_by_role("button", name="Save name").click()
    assert page.get_by_role("status").inner_text() == "Your name was changed."
    assert page.get_by_label("Your name").input_value() == "Ravi Kumar" and _fits(page)

    nav.get_by_role("link", name="Where you are signed in").click()
    assert page.get_by_text("This browser").is_visible() and _fits(page)
    page.get_by_role("button", name="Sign out this session").click()
    assert page.get_by_role("status").inner_text() == "That session was signed out."
    assert page.get_by_role("button", name="Sign out this session").count() == 0

    other.reload()  # the other browser's console session ended with its browser session
    other.wait_for_url(f"**/o/{ORG}/login?req=*")
    page.reload()  # this one is still signed in
    assert page.get_by_role("heading", name="Where you are signed in").is_visible()
    here.close()
    elsewhere.close()
