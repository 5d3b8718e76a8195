"""The account console's sign-in (issue 13): an ordinary code flow with PKCE of the org's own
first-party client, its callback's checks, the console cookie bound to the browser session,
redirects back only to console paths, and isolation between orgs. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select

from namoid.services import Services
from namoid.storage.models import AuditEntry, Client, Organization
from namoid.tenancy import organizations
from tests.features.account.conftest import ConsoleBrowser, console_cookie
from tests.features.authorize.conftest import form_inputs, query
from tests.features.conftest import ADMIN, MakeUser


async def _actions(services: Services, org: Organization, prefix: str) -> list[str]:
    async with services.db.tenant(org.id) as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.org_id == org.id, AuditEntry.action.like(prefix + "%"))
            .order_by(AuditEntry.seq)
        )
        return list(rows)


async def _console_clients(services: Services, org: Organization) -> list[Client]:
    async with services.db.tenant(org.id) as session:
        rows = await session.scalars(
            select(Client).where(Client.org_id == org.id, Client.client_id == "namoid-account")
        )
        return list(rows)


async def test_the_console_signs_in_through_the_orgs_own_authorize(
    http: httpx.AsyncClient, services: Services, org: Organization, make_user: MakeUser
) -> None:
    browser = ConsoleBrowser(http, services, org, await make_user(name="Asha Rao"))
    first = await http.get(browser.base)
    assert first.status_code == 303
    assert first.headers["location"] == f"{browser.base}/signin?next=%2Fo%2F{org.slug}%2Faccount"
    start = await http.get(browser.path(first.headers["location"]))
    authorize = urlsplit(start.headers["location"])
    assert authorize.path == f"/o/{org.slug}/authorize"
    params = query(start.headers["location"])
    assert params["client_id"] == "namoid-account" and params["code_challenge_method"] == "S256"
    assert params["redirect_uri"] == f"{services.settings.base_url}/o/{org.slug}/account/callback"
    to_callback = await browser.until_callback()
    answer = await http.get(browser.path(to_callback.headers["location"]))
    assert answer.status_code == 303 and answer.headers["location"] == browser.base
    cookies = answer.headers.get_list("set-cookie")
    [console_set] = [c for c in cookies if c.startswith(f"__Host-namoid-console_{org.slug}=")]
    attributes = {part.strip().lower() for part in console_set.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= attributes
    assert not any(a.startswith("domain") for a in attributes)
    page = await http.get(browser.base)
    assert page.status_code == 200 and "Asha Rao" in page.text and browser.user.email in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    [client] = await _console_clients(services, org)
    assert client.first_party and client.client_type == "public" and client.scopes == ["openid"]
    assert "token.issued" in await _actions(services, org, "token.")


async def test_the_console_client_is_registered_once_per_org(
    http: httpx.AsyncClient, services: Services, org: Organization, console: ConsoleBrowser
) -> None:
    await http.get(f"{console.base}/signin")
    await http.get(f"{console.base}/signin")
    assert len(await _console_clients(services, org)) == 1
    other = await organizations.create(
        services.db, services.keyring, f"o-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    assert await _console_clients(services, other) == []
    await http.get(f"/o/{other.slug}/account/signin")
    assert len(await _console_clients(services, other)) == 1


def _with(location: str, **changes: str) -> str:
    params = query(location) | changes
    return urlsplit(location).path + "?" + urlencode(params)


async def _refused(browser: ConsoleBrowser, location: str) -> None:
    answer = await browser.http.get(location)
    assert answer.status_code == 400, answer.text
    assert "did not work" in answer.text and console_cookie(browser.http, browser.org) is None
    assert (await browser.http.get(browser.base)).status_code == 303  # still not signed in


async def test_a_wrong_state_or_issuer_is_refused(
    http: httpx.AsyncClient, services: Services, org: Organization, make_user: MakeUser
) -> None:
    browser = ConsoleBrowser(http, services, org, await make_user())
    location = browser.path((await browser.until_callback()).headers["location"])
    await _refused(browser, _with(location, state="forged-state"))
    await _refused(browser, _with(location, iss="https://evil.example/o/x"))
    answer = await http.get(location)  # the genuine answer still works: the code was not spent
    assert answer.status_code == 303 and console_cookie(http, org) is not None


async def test_a_code_from_another_sign_in_fails_pkce(
    http: httpx.AsyncClient, services: Services, org: Organization, make_user: MakeUser
) -> None:
    browser = ConsoleBrowser(http, services, org, await make_user())
    injected = query((await browser.until_callback()).headers["location"])["code"]
    own = browser.path((await browser.until_callback()).headers["location"])  # a second start
    await _refused(browser, _with(own, code=injected))
    refused = await _actions(services, org, "token.refused")
    assert refused == ["token.refused"]


async def test_a_replayed_code_is_refused(
    http: httpx.AsyncClient, services: Services, org: Organization, make_user: MakeUser
) -> None:
    browser = ConsoleBrowser(http, services, org, await make_user())
    location = browser.path((await browser.until_callback()).headers["location"])
    start = http.cookies.get(f"__Host-namoid-consolestart_{org.slug}")
    assert start is not None
    assert (await http.get(location)).status_code == 303
    http.cookies.clear()
    http.cookies.set(f"__Host-namoid-consolestart_{org.slug}", start)
    await _refused(browser, location)
    assert "authorization_code.replayed" in await _actions(services, org, "authorization_code.")


async def test_a_code_or_start_of_another_org_is_refused(
    http: httpx.AsyncClient, services: Services, org: Organization, make_user: MakeUser
) -> None:
    other = await organizations.create(
        services.db, services.keyring, f"o-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    theirs = ConsoleBrowser(http, services, other, await make_user(other))
    foreign = query((await theirs.until_callback()).headers["location"])
    foreign_start = http.cookies.get(f"__Host-namoid-consolestart_{other.slug}")
    assert foreign_start is not None
    ours = ConsoleBrowser(http, services, org, await make_user())
    location = browser_location = ours.path((await ours.until_callback()).headers["location"])
    await _refused(ours, _with(location, code=foreign["code"]))
    http.cookies.set(f"__Host-namoid-consolestart_{org.slug}", foreign_start)
    await _refused(ours, _with(browser_location, state=foreign["state"]))
    # Signed in to one org's console, the other's console still asks to sign in.
    assert (await http.get(f"/o/{other.slug}/account")).status_code == 303


@pytest.mark.parametrize(
    "given",
    [
        "https://evil.example/",
        "//evil.example/o/x/account",
        "/o/{other}/account",
        "/o/{slug}/accountx",
        "/o/{slug}/account/../../logout",
        "/o/{slug}/account\\@evil.example",
        "/security",
    ],
)
async def test_a_sign_in_returns_only_to_a_console_path_of_its_org(
    http: httpx.AsyncClient, services: Services, org: Organization, make_user: MakeUser, given: str
) -> None:
    browser = ConsoleBrowser(http, services, org, await make_user())
    await browser.open()
    http.cookies.delete(f"__Host-namoid-console_{org.slug}")
    target = given.format(slug=org.slug, other="elsewhere")
    to_callback = await browser.until_callback(f"/signin?{urlencode({'next': target})}")
    answer = await http.get(browser.path(to_callback.headers["location"]))
    assert answer.status_code == 303 and answer.headers["location"] == browser.base


async def test_a_sign_in_returns_to_the_console_page_it_left(
    http: httpx.AsyncClient, services: Services, org: Organization, make_user: MakeUser
) -> None:
    browser = ConsoleBrowser(http, services, org, await make_user())
    target = f"/o/{org.slug}/account?tab=1"
    to_callback = await browser.until_callback(f"/signin?{urlencode({'next': target})}")
    answer = await http.get(browser.path(to_callback.headers["location"]))
    assert answer.headers["location"] == target


async def test_the_console_session_ends_with_the_browser_session(console: ConsoleBrowser) -> None:
    page = await console.http.get(console.base)
    fields = form_inputs(page.text)
    signed_out = await console.http.post(f"/o/{console.org.slug}/logout", data=fields)
    assert signed_out.status_code == 200, signed_out.text
    assert console_cookie(console.http, console.org) is not None  # the cookie stays, but is dead
    assert (await console.http.get(console.base)).status_code == 303


async def test_a_console_cookie_alone_or_in_another_browser_is_not_enough(
    http: httpx.AsyncClient, services: Services, console: ConsoleBrowser, make_user: MakeUser
) -> None:
    stolen = console_cookie(http, console.org)
    assert stolen is not None
    http.cookies.delete(f"__Host-namoid-{console.org.slug}")
    assert (await http.get(console.base)).status_code == 303
    other = ConsoleBrowser(http, services, console.org, await make_user())
    http.cookies.clear()
    await other.open()
    http.cookies.set(f"__Host-namoid-console_{console.org.slug}", stolen)
    assert (await http.get(console.base)).status_code == 303  # bound to the other session


async def test_a_disabled_user_is_out_of_the_console(console: ConsoleBrowser, services: Services) -> None:
    from namoid.accounts import users

    await users.disable(services.db, console.org.id, console.user.email, ADMIN)
    assert (await console.http.get(console.base)).status_code == 303
