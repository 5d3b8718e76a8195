"""In Debian's chromium (Playwright): connect the upstream from an existing account, then sign in
with it from another browser. The upstream is a second org of the same ``namoid serve``.

Then an upstream on another site answers like Apple, with a cross-site ``form_post``: NamoID is
at https://localhost, the upstream at https://127.0.0.1 (different sites to the browser), so
the session cookie (SameSite=Lax) stays behind and only the trip cookie binds the callback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, Route, sync_playwright

from tests.e2e.test_browser_flow import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.e2e.test_connected_provider import World, authorize_url, make_world, serving
from tests.e2e.test_oidc_client import PASSWORD, IdP
from tests.e2e.test_server import free_port
from tests.features.authorize.conftest import pkce_pair
from tests.hostile_upstream import CLIENT_ID, Upstream, hostile_upstream

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


def _signed_in_at_home(context: BrowserContext, idp: IdP, world: World) -> Page:
    """A page of ``context`` whose home user signed in to the relying party with a password."""
    page = context.new_page()
    _, challenge = pkce_pair()
    page.goto(authorize_url(idp, world, challenge, CALLBACK))
    _password(page, world.home, world.home_email)
    _allow_if_asked(page)
    page.wait_for_url(f"{CALLBACK}?*")
    return page


def test_connect_then_sign_in_with_the_upstream_in_chromium(browser: Browser, idp: IdP, world: World) -> None:
    arrivals: list[str] = []
    home = idp.issuer(world.home)
    first = _context(browser, arrivals)
    page = _signed_in_at_home(first, idp, world)
    page.goto(f"{home}/account/providers")  # the console's own sign-in passes through
    page.get_by_role("button", name="Connect friends").click()
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


@pytest.fixture(scope="module")
def cross_site(idp: IdP) -> Iterator[Upstream]:
    """The upstream on https://127.0.0.1 with NamoID's certificate (which NamoID trusts)."""
    cert = (Path(idp.env["NAMOID_TLS_CERT_FILE"]), Path(idp.env["NAMOID_TLS_KEY_FILE"]))
    with hostile_upstream(cert) as upstream:
        yield upstream


def test_a_cross_site_form_post_connects_and_signs_in_in_chromium(
    browser: Browser, idp: IdP, world: World, cross_site: Upstream
) -> None:
    home = idp.issuer(world.home)
    assert home.startswith("https://localhost:") and cross_site.issuer.startswith("https://127.0.0.1:")
    idp.cli(
        "providers", "add", "--org", world.home, "--name", "apple", "--preset", "oidc",
        "--issuer", cross_site.issuer, "--client-id", CLIENT_ID, "--client-secret-stdin",
        stdin=f"secret-{uuid.uuid4().hex}",
    )  # fmt: skip
    cross_site.form_post_subject = f"apple-{uuid.uuid4().hex[:8]}"
    arrivals: list[str] = []
    first = _context(browser, arrivals)
    page = _signed_in_at_home(first, idp, world)
    page.goto(f"{home}/account/providers")
    page.get_by_role("button", name="Connect apple").click()  # the upstream's page POSTs back at once
    page.wait_for_url("**/providers/apple/callback")
    assert "apple is connected" in page.content()
    first.close()

    second = _context(browser, arrivals)  # another browser: no session anywhere
    callbacks: list[Request] = []
    second.on("request", lambda r: callbacks.append(r) if "/providers/apple/callback" in r.url else None)
    page = second.new_page()
    _, challenge = pkce_pair()
    page.goto(authorize_url(idp, world, challenge, CALLBACK))
    page.wait_for_url(f"**/o/{world.home}/login?req=*")
    page.get_by_role("link", name="Sign in with apple").click()
    for _ in range(100):  # form_post back, our page, consent (if asked), the relying party
        if len(arrivals) == 2:
            break
        if "/consent?req=" in page.url:
            _allow_if_asked(page)
        page.wait_for_timeout(100)
    assert len(callbacks) == 1 and callbacks[0].method == "POST"
    sent = callbacks[0].all_headers().get("cookie", "")
    assert f"__Host-namoid-trip_{world.home}=" in sent  # SameSite=None: carried cross-site
    assert f"__Host-namoid-{world.home}=" not in sent  # the Lax session cookie was not
    second.close()
    assert len(arrivals) == 2
    posts = [r for r in cross_site.requests if r[1] == "/token"]
    assert len(posts) == 2  # both callbacks got as far as redeeming the code
    params = parse_qs(urlsplit(arrivals[-1]).query)
    assert set(params) == {"code", "state", "iss"} and params["iss"] == [home]
