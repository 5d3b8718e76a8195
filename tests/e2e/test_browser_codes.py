"""Codes in a real browser (Debian's chromium, Playwright) against ``namoid serve``, at phone
width and with JavaScript off: email-code sign-in, sign-up and password reset, each back at the
relying party. The codes are read from the dev mailbox the embedded server's worker writes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page

from namoid.notify.dev import mailbox_dir, read_mailbox
from tests.e2e import test_browser_flow as browser_flow
from tests.e2e.test_browser_flow import PASSWORD, PHONE, _cli
from tests.e2e.test_server import Server, free_port, start, stop
from tests.features.authorize.conftest import pkce_pair

ORG = "codes"
EMAIL = "meera@example.com"
NEW_PASSWORD = "a long new passphrase"  # pragma: allowlist secret
#: Debian's chromium, started once for the module (test_browser_flow.py's fixture).
browser = browser_flow.browser


class Site:
    def __init__(self, server: Server, data_dir: Path, client_id: str, callback: str) -> None:
        self.server, self.data_dir, self.client_id, self.callback = server, data_dir, client_id, callback

    def authorize_url(self) -> str:
        _, challenge = pkce_pair()
        params = {
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.callback,
            "scope": "openid email", "state": "s", "nonce": "n",
            "code_challenge": challenge, "code_challenge_method": "S256",
        }  # fmt: skip
        return f"{self.server.base_url}/o/{ORG}/authorize?{urlencode(params)}"

    def code_for(self, to: str, after: int = 0) -> str:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = [m.message for m in read_mailbox(mailbox_dir(self.data_dir)) if m.message.to == to]
            if len(found) > after:
                return re.search(r"\b([0-9]{6})\b", found[0].text).group(1)  # type: ignore[union-attr]
            time.sleep(0.1)
        raise AssertionError(f"no code for {to}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp_path = tmp_path_factory.mktemp("codes")
    data_dir = tmp_path / "data"
    callback = f"https://127.0.0.1:{free_port()}/cb"
    _cli(data_dir, "org", "create", ORG)
    _cli(data_dir, "org", "set-sign-in", ORG, "--method", "password", "--method", "email_otp",
         "--registration", "open")  # fmt: skip
    client = _cli(data_dir, "client", "create", "--org", ORG, "--name", "Phone RP", "--type", "public",
                  "--redirect-uri", callback)  # fmt: skip
    _cli(
        data_dir, "user", "create", "--org", ORG, "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n"
    )
    server = start(tmp_path)
    try:
        yield Site(server, data_dir, client["client_id"], callback)
    finally:
        stop(server)


@pytest.fixture
def page(browser: browser_flow.Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True, java_script_enabled=False)
    context.route(f"{site.callback}**", lambda route: route.fulfill(status=200, body="relying party"))
    yield context.new_page()
    context.close()


def _enter_code(page: Page, code: str, password: str | None = None) -> None:
    field = page.get_by_role("textbox", name="Code")
    assert (
        field.get_attribute("autocomplete") == "one-time-code"
        and field.get_attribute("inputmode") == "numeric"
    )
    field.fill(code)
    if password is not None:
        page.get_by_label("New password").fill(password)
    page.get_by_role("button", name="Continue").click()


def _back_at_the_client(page: Page, site: Site) -> None:
    if "/consent" in page.url:
        page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{site.callback}?*")
    assert set(parse_qs(urlsplit(page.url).query)) == {"code", "state", "iss"}


def test_email_code_sign_in(page: Page, site: Site) -> None:
    page.goto(site.authorize_url())
    page.get_by_role("link", name="Sign in with a code by email").click()
    page.get_by_role("textbox", name="Email").fill(EMAIL)
    page.get_by_role("button", name="Send code").click()
    _enter_code(page, site.code_for(EMAIL))
    _back_at_the_client(page, site)


def test_sign_up(page: Page, site: Site) -> None:
    page.goto(site.authorize_url())
    page.get_by_role("link", name="Create an account").click()
    page.get_by_role("textbox", name="Email").fill("newcomer@example.com")
    page.get_by_role("button", name="Send code").click()
    _enter_code(page, site.code_for("newcomer@example.com"), password=NEW_PASSWORD)
    _back_at_the_client(page, site)


def test_password_reset_then_sign_in_with_the_new_password(page: Page, site: Site) -> None:
    before = len([m for m in read_mailbox(mailbox_dir(site.data_dir)) if m.message.to == EMAIL])
    page.goto(site.authorize_url())
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_role("textbox", name="Email").fill(EMAIL)
    page.get_by_role("button", name="Send code").click()
    _enter_code(page, site.code_for(EMAIL, after=before), password=NEW_PASSWORD)
    page.wait_for_url("**/login?req=*")
    assert "Your password has been changed" in page.content()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    _back_at_the_client(page, site)
