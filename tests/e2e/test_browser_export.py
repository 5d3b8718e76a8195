"""A user exports their data from the account console in a real browser (Debian's chromium,
Playwright) against ``namoid serve``, at phone width with JavaScript off: sign in, prepare the
export (the embedded worker produces it), download it once, and read the summary."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from namoid.privacy import export
from tests.e2e import test_browser_flow as browser_flow
from tests.e2e.test_browser_flow import PASSWORD, PHONE, _cli
from tests.e2e.test_server import Server, start, stop
from tests.json_schema_subset import errors

ORG = "exports"
EMAIL = "kavya@example.com"
#: Debian's chromium, started once for the module (test_browser_flow.py's fixture).
browser = browser_flow.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp("exports")
    data_dir = tmp_path / "data"
    _cli(data_dir, "org", "create", ORG, "--name", "Export Org")
    _cli(data_dir, "user", "create", "--org", ORG, "--email", EMAIL, "--password-stdin", stdin=PASSWORD)
    served = start(tmp_path, NAMOID_WORKER_INTERVAL="1")
    try:
        yield served
    finally:
        stop(served)


@pytest.fixture
def page(browser: browser_flow.Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport=PHONE, ignore_https_errors=True, java_script_enabled=False, accept_downloads=True
    )
    yield context.new_page()
    context.close()


def _fits_the_screen(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_user_exports_their_data_in_a_real_browser(page: Page, server: Server, tmp_path: Path) -> None:
    """Screenshots (data.png, summary.png) are left in the test's tmp_path."""
    page.goto(f"{server.base_url}/o/{ORG}/account/data")
    page.wait_for_url("**/login?req=*")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account/data")
    assert _fits_the_screen(page)

    page.get_by_role("button", name="Prepare an export of your data").click()
    assert "being prepared" in page.content()
    deadline = time.monotonic() + 30
    while not page.get_by_role("button", name="Download your data").count():
        assert time.monotonic() < deadline, "the worker did not produce the export"
        time.sleep(0.5)
        page.goto(f"{server.base_url}/o/{ORG}/account/data")
    page.screenshot(path=tmp_path / "data.png", full_page=True)
    assert _fits_the_screen(page)

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download your data").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"namoid-export-{ORG}-")
    document = json.loads(Path(download.path()).read_text())
    assert errors(document, json.loads(export.SCHEMA_FILE.read_text())) == []
    assert document["sections"]["account"]["contacts"][0]["value"] == EMAIL
    assert PASSWORD not in json.dumps(document)

    again = page.goto(download.url)
    assert again is not None and again.status == 410
    assert "already used" in page.content()

    page.goto(f"{server.base_url}/o/{ORG}/account/data/summary")
    assert EMAIL in page.content() and "Consent history" in page.content()
    page.screenshot(path=tmp_path / "summary.png", full_page=True)
    assert _fits_the_screen(page)
    status = page.goto(f"{server.base_url}/o/{ORG}/account/data")
    assert status is not None and status.status == 200
    assert "Downloaded" in page.content()
