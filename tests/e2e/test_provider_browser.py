"""In Debian's chromium (Playwright): connect the upstream from an existing account, then sign in
with it from another browser. The upstream is a second org of the same ``namoid serve``."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from tests.e2e.test_browser_flow import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.e2e.test_connected_provider import World, authorize_url, make_world, serving
from tests.e2e.test_oidc_client import PASSWORD, IdP
from tests.e2e.test_server import free_port
from tests.features.authorize.conftest import pkce_pair

CALLBACK = f"https://127.0.0.1:{free_port()}/cb"


@pytest.fixture(scope="module")
def idp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdP]:
    with serving("sqlite", request, tmp_path_factory.mktemp("provider-browser")) as served:
        yield served


@pytest.fixture(scope="module")
def world(idp: IdP) -> World:
    return make_world(idp, CALLBACK)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _context(browser: Browser, arrivals: list[str]) -> BrowserContext:
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True)

    def relying_party(route: Route) -> None:
        arrivals.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="relying party")

    context.route(f"{CALLBACK}**", relying_party)
    return context


def _password(page: Page, org: str, email: str) -> None:
    page.wait_for_url(f"**/o/{org}/login?req=*")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _allow_if_asked(page: Page) -> None:
    page.wait_for_load_state()
    if "/consent?req=" in page.url:
        page.get_by_role("button", name="Allow").click()


def test_connect_then_sign_in_with_the_upstream_in_chromium(browser: Browser, idp: IdP, world: World) -> None:
    arrivals: list[str] = []
    home = idp.issuer(world.home)
    first = _context(browser, arrivals)
    page = first.new_page()
    _, challenge = pkce_pair()
    page.goto(authorize_url(idp, world, challenge, CALLBACK))
    _password(page, world.home, world.home_email)
    _allow_if_asked(page)
    page.wait_for_url(f"{CALLBACK}?*")
    page.goto(f"{home}/providers/friends/connect")
    _password(page, world.upstream, world.upstream_email)
    _allow_if_asked(page)
    page.wait_for_url("**/providers/friends/callback?*")
    assert "friends is connected" in page.content()
    first.close()

    second = _context(browser, arrivals)  # another browser: no session anywhere
    page = second.new_page()
    _, challenge = pkce_pair()
    page.goto(authorize_url(idp, world, challenge, CALLBACK))
    page.wait_for_url(f"**/o/{world.home}/login?req=*")
    page.get_by_role("link", name="Sign in with friends").click()
    _password(page, world.upstream, world.upstream_email)
    _allow_if_asked(page)
    for _ in range(100):  # the redirect chain ends at the (intercepted) relying party
        if len(arrivals) == 2:
            break
        page.wait_for_timeout(100)
    second.close()
    params = parse_qs(urlsplit(arrivals[-1]).query)
    assert set(params) == {"code", "state", "iss"} and params["iss"] == [home]
    assert len(arrivals) == 2
