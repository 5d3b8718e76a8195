"""In Debian's chromium at phone width: consent under a published notice, then withdraw it from
the account console in one click; the application is asked about again (issue 13 items 2, 3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.e2e.test_browser_flow import EMAIL, PASSWORD, PHONE, _cli, _fits_the_screen, _sign_in, browser
from tests.e2e.test_server import Server, free_port, start, stop
from tests.features.authorize.conftest import pkce_pair

#: The module-scoped chromium of the browser-flow tests.
__all__ = ["browser"]
ORG = "e2e-consent"
NOTICE = "Shop receives your email address to create your order history.\n\nWithdraw any time."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    """A server whose org published its own notice (through the CLI), with the relying party Shop."""
    tmp_path = tmp_path_factory.mktemp("consents")
    data_dir = tmp_path / "data"
    callback = f"https://127.0.0.1:{free_port()}/cb"
    _cli(data_dir, "org", "create", ORG, "--name", "Consent Org")
    notice = tmp_path / "notice.md"
    notice.write_text(NOTICE, encoding="utf-8")
    assert _cli(data_dir, "org", "set-notice", ORG, "--file", str(notice), "--lang", "en")["version"] == "1"
    client_id = _cli(
        data_dir, "client", "create", "--org", ORG, "--name", "Shop", "--type", "public",
        "--redirect-uri", callback,
    )["client_id"]  # fmt: skip
    _cli(
        data_dir, "user", "create", "--org", ORG, "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n"
    )
    running = start(tmp_path)
    try:
        yield running, client_id, callback
    finally:
        stop(running)


def _authorize(page: Page, server: Server, client_id: str, callback: str) -> None:
    _, challenge = pkce_pair()
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": callback, "scope": "openid email",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    page.goto(f"{server.base_url}/o/{ORG}/authorize?{urlencode(params)}")


def test_consent_then_withdraw_in_one_click(
    browser: Browser, server: tuple[Server, str, str], tmp_path: Path
) -> None:
    running, client_id, callback = server
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True, java_script_enabled=False)
    arrivals: list[str] = []

    def relying_party(route: Route) -> None:
        arrivals.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="relying party")

    context.route(f"{callback}**", relying_party)
    page = context.new_page()
    try:
        _authorize(page, running, client_id, callback)
        _sign_in(page)
        page.wait_for_url("**/consent?req=*")
        assert "Shop receives your email address" in page.content() and "Notice version 1" in page.content()
        assert _fits_the_screen(page)
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(f"{callback}?*")
        assert len(arrivals) == 1 and "code=" in arrivals[0]

        page.goto(f"{running.base_url}/o/{ORG}/account/applications")
        page.wait_for_url("**/account/applications")
        assert "Shop" in page.content() and "email_verified" in page.content() and _fits_the_screen(page)
        page.screenshot(path=tmp_path / "applications.png", full_page=True)
        page.get_by_role("button", name="Withdraw consent for Shop").click()
        page.wait_for_url("**/account/applications/withdraw")
        assert "Access withdrawn" in page.content() and "Withdraw consent for Shop" not in page.content()

        page.goto(f"{running.base_url}/o/{ORG}/account/consents")
        assert "consent withdrawn" in page.content() and "consent given" in page.content()

        _authorize(page, running, client_id, callback)  # asked again: the consent is gone
        page.wait_for_url("**/consent?req=*")
        assert page.get_by_role("button", name="Allow").is_visible()
    finally:
        context.close()
    assert (tmp_path / "applications.png").stat().st_size > 1000
