"""Console sections: sessions (sign out one or everywhere) and the password change with its
step-up; CSRF and stale step-ups refused with nothing changed. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from namoid.app import create_public_app
from namoid.crypto.secrets import sha256_hex
from namoid.services import Services
from namoid.storage.models import AuditEntry, BrowserSession, Organization, User
from tests.features.account.conftest import ConsoleBrowser
from tests.features.authorize.conftest import Flow, new_flow
from tests.features.conftest import MakeClient, MakeUser
from tests.features.token.conftest import exchange, post

NEW_PASSWORD = "a much longer new passphrase"  # pragma: allowlist secret
#: A relying party that gets refresh tokens bound to the browser session (no offline_access).
REFRESHING = {"grant_types": ["authorization_code", "refresh_token"], "refresh_tokens": True}


@pytest.fixture
async def other_http(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser."""
    transport = httpx.ASGITransport(app=create_public_app(services), client=("203.0.113.8", 50001))
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.base_url) as client:
        yield client


@pytest.fixture
async def elsewhere(
    other_http: httpx.AsyncClient, services: Services, console: ConsoleBrowser
) -> ConsoleBrowser:
    """The same user signed in to the console in the second browser."""
    browser = ConsoleBrowser(other_http, services, console.org, console.user)
    assert (await browser.open()).status_code == 200
    return browser


async def _live(services: Services, org: Organization, user: User) -> list[BrowserSession]:
    async with services.db.tenant(org.id) as session:
        rows = await session.scalars(
            select(BrowserSession).where(
                BrowserSession.org_id == org.id,
                BrowserSession.user_id == user.id,
                BrowserSession.ended_at.is_(None),
            )
        )
        return list(rows)


async def _actions(services: Services, org: Organization) -> list[str]:
    async with services.db.tenant(org.id) as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.org_id == org.id).order_by(AuditEntry.seq)
        )
        return list(rows)


async def _password_hash(services: Services, org: Organization, user: User) -> str | None:
    async with services.db.tenant(org.id) as session:
        return await session.scalar(select(User.password_hash).where(User.id == user.id))


async def _tokens(flow: Flow) -> dict[str, str]:
    code = (await flow.sign_in_and_allow(scope="openid"))["code"]
    response = await exchange(flow.http, flow.org, flow.rp, code, flow.verifier)
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


async def _refresh(
    http: httpx.AsyncClient, org: Organization, flow: Flow, tokens: dict[str, str]
) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    return await post(http, org, "token", data, flow.rp)


async def test_the_sessions_page_signs_out_another_browser(
    console: ConsoleBrowser, elsewhere: ConsoleBrowser, services: Services
) -> None:
    fields = await console.form("/sessions")
    page = await console.http.get(f"{console.base}/sessions")
    assert page.text.count("Sign out this session") == 1 and "This browser" in page.text
    live = await _live(services, console.org, console.user)
    assert len(live) == 2
    token_hash = sha256_hex(console.http.cookies[f"__Host-namoid-{console.org.slug}"])
    [other] = [row for row in live if row.token_hash != token_hash]
    answer = await console.post(
        "/sessions/end", {"csrf_token": fields["csrf_token"], "session": str(other.id)}
    )
    assert answer.status_code == 200 and "signed out" in answer.text
    assert [row.token_hash for row in await _live(services, console.org, console.user)] == [token_hash]
    assert (await elsewhere.http.get(elsewhere.base)).status_code == 303  # back to sign-in
    assert (await console.http.get(console.base)).status_code == 200
    assert "session.ended" in await _actions(services, console.org)


async def test_sign_out_everywhere_ends_every_session_and_their_grants(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
    other_http: httpx.AsyncClient,
) -> None:
    flow = await new_flow(other_http, services, org, make_client, make_user, **REFRESHING)
    tokens = await _tokens(flow)
    browser = ConsoleBrowser(http, services, org, flow.user)
    fields = await browser.form("/sessions")
    done = await browser.post("/sessions/end-all", {"csrf_token": fields["csrf_token"]})
    assert done.status_code == 200 and "You are signed out" in done.text
    assert await _live(services, org, flow.user) == []
    refreshed = await _refresh(other_http, org, flow, tokens)
    assert refreshed.status_code == 400
    assert (await http.get(browser.base)).status_code == 303


async def test_a_form_without_or_with_a_foreign_csrf_token_changes_nothing(
    console: ConsoleBrowser, elsewhere: ConsoleBrowser, services: Services
) -> None:
    theirs = (await elsewhere.form("/sessions"))["csrf_token"]
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": theirs}):
        refused = await console.post("/sessions/end-all", data)
        assert refused.status_code == 403, refused.text
    assert len(await _live(services, console.org, console.user)) == 2
    assert (await _actions(services, console.org)).count("csrf.rejected") == 3


async def test_a_post_without_a_console_session_is_refused(
    http: httpx.AsyncClient, console: ConsoleBrowser, services: Services
) -> None:
    fields = await console.form("/sessions")
    http.cookies.delete(f"__Host-namoid-console_{console.org.slug}")
    before = await _password_hash(services, console.org, console.user)
    for path, data in (("/sessions/end-all", fields), ("/password", fields | {"new_password": NEW_PASSWORD})):
        refused = await console.post(path, data | {"confirm_password": NEW_PASSWORD})
        assert refused.status_code == 401 and "Sign in first" in refused.text
    assert len(await _live(services, console.org, console.user)) == 1
    assert await _password_hash(services, console.org, console.user) == before


async def test_another_users_session_cannot_be_signed_out(
    console: ConsoleBrowser, other_http: httpx.AsyncClient, services: Services, make_user: MakeUser
) -> None:
    stranger = ConsoleBrowser(other_http, services, console.org, await make_user())
    await stranger.open()
    [theirs] = await _live(services, console.org, stranger.user)
    fields = await console.form("/sessions")
    answer = await console.post(
        "/sessions/end", {"csrf_token": fields["csrf_token"], "session": str(theirs.id)}
    )
    assert answer.status_code == 200 and "already ended" in answer.text
    assert len(await _live(services, console.org, stranger.user)) == 1


async def test_a_stale_sign_in_is_stepped_up_before_the_password_page(console: ConsoleBrowser) -> None:
    await console.age_sign_in(301)
    first = await console.http.get(f"{console.base}/password")
    assert first.status_code == 303
    target = urlsplit(first.headers["location"])
    assert target.path == f"{console.base}/signin" and "max_age=300" in target.query
    authorize = await console.http.get(console.path(first.headers["location"]))
    assert "max_age=300" in authorize.headers["location"]
    login = await console.http.get(console.path(authorize.headers["location"]))
    assert urlsplit(login.headers["location"]).path.endswith("/login")  # a fresh sign-in is asked
    page = await console.open("/password")
    assert page.status_code == 200 and "Change your password" in page.text


async def test_a_stale_post_is_refused_and_changes_nothing(
    console: ConsoleBrowser, services: Services
) -> None:
    fields = await console.form("/password")
    before = await _password_hash(services, console.org, console.user)
    await console.age_sign_in(301)
    data = fields | {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    refused = await console.post("/password", data)
    assert refused.status_code == 403 and "Confirm it is you" in refused.text
    assert "max_age=300" in refused.text
    assert await _password_hash(services, console.org, console.user) == before
    assert "account.step_up_required" in await _actions(services, console.org)
    assert "password.changed" not in await _actions(services, console.org)


async def test_a_password_change_ends_other_sessions_and_grants(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
    other_http: httpx.AsyncClient,
) -> None:
    flow = await new_flow(other_http, services, org, make_client, make_user, **REFRESHING)
    tokens = await _tokens(flow)
    console = ConsoleBrowser(http, services, org, flow.user)
    fields = await console.form("/password")
    mismatch = await console.post(
        "/password", fields | {"new_password": NEW_PASSWORD, "confirm_password": "x"}
    )
    too_short = {"new_password": "short", "confirm_password": "short"}  # pragma: allowlist secret
    short = await console.post("/password", fields | too_short)
    assert mismatch.status_code == short.status_code == 400
    assert len(await _live(services, org, flow.user)) == 2
    data = fields | {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    changed = await console.post("/password", data)
    assert (
        changed.status_code == 200
        and "Your password was changed. 1 other session signed out." in changed.text
    )
    assert len(await _live(services, org, flow.user)) == 1
    assert (await http.get(console.base)).status_code == 200  # this browser stays
    refreshed = await _refresh(other_http, org, flow, tokens)
    assert refreshed.status_code == 400
    assert "password.changed" in await _actions(services, org)
    other_http.cookies.clear()
    again = ConsoleBrowser(other_http, services, org, flow.user)
    refused = await again.until_callback()  # the old password fails at the login page
    assert refused.status_code == 200 and "do not match" in refused.text
    http.cookies.clear()
    fresh = ConsoleBrowser(http, services, org, flow.user)
    assert (await fresh.until_callback(password=NEW_PASSWORD)).status_code == 303
