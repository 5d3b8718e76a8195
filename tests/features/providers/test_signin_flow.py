"""Sign in with a provider and connect one, through the real app, against a TLS upstream on 127.0.0.1.

The upstream (tests/hostile_upstream.py) behaves well unless a test makes it lie; every
refusal must be a clear page and an audit entry, with nothing linked and nothing stored.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select, update

from namoid.crypto.secrets import sha256_hex
from namoid.oauth.pkce import s256
from namoid.privacy import consent_ledger
from namoid.providers.signin import TRIP_TTL
from namoid.services import Services
from namoid.storage.models import (
    AuditEntry,
    BrowserSession,
    Organization,
    ProviderAuthorization,
    ProviderConnection,
    ProviderToken,
    UpstreamProvider,
)
from namoid.web.cookies import session_cookie_name, trip_cookie_name
from tests.features.account.conftest import ConsoleBrowser
from tests.features.authorize.conftest import Flow, form_inputs, new_flow, query
from tests.features.conftest import MakeClient, MakeUser
from tests.hostile_upstream import Behaviour, Upstream


@dataclass
class Trip:
    """The browser's visit to the upstream: what NamoID sent it with."""

    params: dict[str, str]

    @property
    def state(self) -> str:
        return self.params["state"]

    @property
    def nonce(self) -> str:
        return self.params["nonce"]


async def _start(flow: Flow, upstream: Upstream, path: str) -> Trip:
    response = await flow.http.get(path)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"{upstream.issuer}/authorize?")
    return Trip(query(location))


async def _start_connect(flow: Flow, upstream: Upstream) -> Trip:
    """Connect from the account console: a CSRF-protected POST (no GET starts a connect trip)."""
    console = ConsoleBrowser(flow.http, flow.services, flow.org, flow.user)
    fields = await console.form("/providers")
    response = await console.post("/providers/up/connect", {"csrf_token": fields["csrf_token"]})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"{upstream.issuer}/authorize?")
    return Trip(query(location))


async def _sign_in_trip(flow: Flow, upstream: Upstream) -> Trip:
    login_page = await flow.follow(await flow.authorize())
    assert "Sign in with up" in login_page.text
    handle = form_inputs(login_page.text)["req"]
    return await _start(flow, upstream, f"{flow.base}/providers/up/start?req={handle}")


async def _callback(flow: Flow, upstream: Upstream, **params: str) -> httpx.Response:
    return await flow.http.get(
        f"{flow.base}/providers/up/callback", params={"code": upstream.new_code(), **params}
    )


async def _connections(flow: Flow) -> tuple[int, int]:
    async with flow.services.db.tenant(flow.org.id) as session:
        links = await session.scalar(select(func.count()).select_from(ProviderConnection))
        vault_rows = await session.scalar(select(func.count()).select_from(ProviderToken))
    return int(links or 0), int(vault_rows or 0)


async def _refusals(flow: Flow) -> list[object]:
    async with flow.services.db.tenant(flow.org.id) as session:
        rows = await session.scalars(
            select(AuditEntry.detail).where(
                AuditEntry.org_id == flow.org.id, AuditEntry.action == "provider.callback_refused"
            )
        )
        return [detail["reason"] for detail in rows]


async def _connect_started(flow: Flow, upstream: Upstream, sub: str) -> Trip:
    """The flow's user signs in with a password and starts connecting the upstream identity ``sub``."""
    login_page = await flow.follow(await flow.authorize())
    await flow.login(login_page)
    trip = await _start_connect(flow, upstream)
    upstream.id_token = upstream.sign(upstream.claims(trip.nonce, sub=sub))
    return trip


async def _connect_trip(flow: Flow, upstream: Upstream, sub: str) -> tuple[Trip, httpx.Response]:
    """The flow's user signs in with a password, then connects the upstream identity ``sub``."""
    trip = await _connect_started(flow, upstream, sub)
    return trip, await _callback(flow, upstream, state=trip.state)


async def _connect(flow: Flow, upstream: Upstream, sub: str = "upstream-user-1") -> httpx.Response:
    return (await _connect_trip(flow, upstream, sub))[1]


async def test_connect_then_sign_in_with_the_provider(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    connected = await _connect(flow, upstream)
    assert connected.status_code == 200, connected.text
    assert "up is connected" in connected.text
    assert await _connections(flow) == (1, 1)
    records = await consent_ledger.list_records(flow.services.db, flow.org.id, user_id=flow.user.id)
    assert [(r.kind, r.event, r.counterparty) for r in records] == [("provider_connection", "granted", "up")]
    assert records[0].ip == "203.0.113.7" and records[0].user_agent and records[0].notice_version
    assert records[0].occurred_at.tzinfo is not None

    flow.http.cookies.clear()  # another day, another browser
    trip = await _sign_in_trip(flow, upstream)
    assert trip.params["code_challenge_method"] == "S256" and trip.params["redirect_uri"].endswith(
        f"/o/{flow.org.slug}/providers/up/callback"
    )
    upstream.id_token = upstream.sign(upstream.claims(trip.nonce, sub="upstream-user-1"))
    signed_in = await _callback(flow, upstream, state=trip.state)
    assert signed_in.status_code == 200, signed_in.text  # a self-submitting page, not a redirect
    assert f'action="{flow.base}/consent"' in signed_in.text and 'method="get"' in signed_in.text
    assert "form-action 'self' https://rp.example" in signed_in.headers["content-security-policy"]
    consent = await flow.http.get(f"{flow.base}/consent", params={"req": form_inputs(signed_in.text)["req"]})
    assert consent.status_code == 200 and 'value="allow"' in consent.text
    body = [r for r in upstream.requests if r[1] == "/token"][-1][3]
    verifier = next(p.split("=", 1)[1] for p in body.split("&") if p.startswith("code_verifier="))
    assert s256(verifier) == trip.params["code_challenge"]
    async with flow.services.db.tenant(flow.org.id) as session:
        amrs = (
            await session.scalars(
                select(BrowserSession.amr).where(
                    BrowserSession.user_id == flow.user.id, BrowserSession.ended_at.is_(None)
                )
            )
        ).all()
    assert ["fed"] in amrs


async def test_a_matching_email_is_never_linked_silently(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    trip = await _sign_in_trip(flow, upstream)
    upstream.id_token = upstream.sign(
        upstream.claims(trip.nonce, sub="stranger", email=flow.user.email, email_verified=True)
    )
    response = await _callback(flow, upstream, state=trip.state)
    assert response.status_code == 400
    assert "sign in with your password" in response.text
    assert await _connections(flow) == (0, 0)
    assert await _refusals(flow) == ["account_exists"]


async def test_an_unknown_identity_without_account_creation_is_refused(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    trip = await _sign_in_trip(flow, upstream)
    upstream.id_token = upstream.sign(upstream.claims(trip.nonce, sub="new", email="new@example.com"))
    response = await _callback(flow, upstream, state=trip.state)
    assert response.status_code == 400 and await _connections(flow) == (0, 0)
    assert await _refusals(flow) == ["not_linked"]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing_state", "missing_state"),
        ("unknown_state", "unknown_state"),
        ("wrong_iss", "wrong_iss"),
        ("wrong_nonce", "wrong_nonce"),
        ("alg_none", "bad_algorithm"),
        ("foreign_aud", "wrong_audience"),
        ("other_browser", "other_browser"),
        ("upstream_error", "upstream_error"),
    ],
)
async def test_hostile_callbacks_are_refused_and_store_nothing(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider, case: str, reason: str
) -> None:
    login_page = await flow.follow(await flow.authorize())
    await flow.login(login_page)
    trip = await _start_connect(flow, upstream)
    claims = upstream.claims(trip.nonce, sub="attacker")
    upstream.id_token = upstream.sign(claims)
    params = {"state": trip.state}
    if case == "missing_state":
        params = {}
    elif case == "unknown_state":
        params = {"state": "a-state-we-never-issued"}
    elif case == "wrong_iss":
        params["iss"] = "https://accounts.google.com"
    elif case == "wrong_nonce":
        upstream.id_token = upstream.sign(upstream.claims("another-nonce", sub="attacker"))
    elif case == "alg_none":
        upstream.id_token = upstream.forge(claims, "none")
    elif case == "foreign_aud":
        upstream.id_token = upstream.sign(upstream.claims(trip.nonce, sub="attacker", aud="someone-else"))
    elif case == "other_browser":
        flow.http.cookies.clear()
    elif case == "upstream_error":
        params |= {"error": "access_denied", "error_description": "<script>upstream text</script>"}
    response = await _callback(flow, upstream, **params)
    assert response.status_code == 400, response.text
    assert "did not work" in response.text and "upstream text" not in response.text
    assert await _connections(flow) == (0, 0)
    assert await _refusals(flow) == [reason]


async def test_a_replayed_state_is_refused(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    trip, first = await _connect_trip(flow, upstream, "upstream-user-1")
    assert first.status_code == 200
    replay = await _callback(flow, upstream, state=trip.state)
    assert replay.status_code == 400 and "already completed" in replay.text
    assert await _refusals(flow) == ["replayed_state"]
    assert len([r for r in upstream.requests if r[1] == "/token"]) == 1  # the replay never reached it


async def test_an_identity_connected_to_someone_else_cannot_be_connected_again(
    flow: Flow,
    upstream: Upstream,
    upstream_provider: UpstreamProvider,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
) -> None:
    assert (await _connect(flow, upstream, sub="shared")).status_code == 200
    other = await new_flow(flow.http, services, org, make_client, make_user)
    flow.http.cookies.clear()
    response = await _connect(other, upstream, sub="shared")
    assert response.status_code == 400
    assert await _refusals(flow) == ["linked_elsewhere"]
    assert await _connections(flow) == (1, 1)


@pytest.mark.parametrize(
    ("behaviour", "reason"), [("slow", "timeout"), ("oversized", "oversized"), ("redirect", "http_status")]
)
async def test_a_misbehaving_upstream_is_refused_with_a_clear_page(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider, behaviour: Behaviour, reason: str
) -> None:
    """Slow, oversized, or redirecting to 169.254.169.254: refused, audited, nothing stored."""
    login_page = await flow.follow(await flow.authorize())
    upstream.behaviour = behaviour
    handle = form_inputs(login_page.text)["req"]
    response = await flow.http.get(f"{flow.base}/providers/up/start?req={handle}")
    assert response.status_code == 400 and "did not work" in response.text
    assert "169.254" not in response.text
    assert await _refusals(flow) == [reason]
    assert await _connections(flow) == (0, 0)


# --- form_post (Apple): the callback is a cross-site POST that carries no Lax cookie -------------


def _trip_cookie(flow: Flow) -> str:
    value = flow.http.cookies.get(trip_cookie_name(flow.org.slug))
    assert value, "the trip's start set no trip cookie"
    return value


def _as_cross_site_post(flow: Flow) -> None:
    """Keep only what a browser sends on a cross-site POST: its SameSite=None cookie, the trip's."""
    trip = _trip_cookie(flow)
    flow.http.cookies.clear()
    flow.http.cookies.set(trip_cookie_name(flow.org.slug), trip)


async def _form_post(flow: Flow, upstream: Upstream, **params: str) -> httpx.Response:
    return await flow.http.post(
        f"{flow.base}/providers/up/callback", data={"code": upstream.new_code(), **params}
    )


def _set_cookie(response: httpx.Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, f"expected one Set-Cookie for {name}"
    return found[0]


async def test_a_form_post_callback_without_the_session_cookie_signs_in(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    assert (await _connect(flow, upstream)).status_code == 200
    flow.http.cookies.clear()
    trip = await _sign_in_trip(flow, upstream)
    upstream.id_token = upstream.sign(upstream.claims(trip.nonce, sub="upstream-user-1"))
    _as_cross_site_post(flow)
    signed_in = await _form_post(flow, upstream, state=trip.state)
    assert signed_in.status_code == 200, signed_in.text
    assert f'action="{flow.base}/consent"' in signed_in.text
    session_cookie = _set_cookie(signed_in, session_cookie_name(flow.org.slug)).lower()
    assert all(a in session_cookie for a in ("secure", "httponly", "samesite=lax", "path=/"))
    assert "max-age=0" in _set_cookie(signed_in, trip_cookie_name(flow.org.slug)).lower()  # single use
    # The next (same-site) request carries the new session: the consent page, not the login page.
    consent = await flow.http.get(f"{flow.base}/consent", params={"req": form_inputs(signed_in.text)["req"]})
    assert consent.status_code == 200 and 'value="allow"' in consent.text
    assert await _refusals(flow) == []


async def test_a_form_post_connect_takes_the_user_from_the_trip(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    trip = await _connect_started(flow, upstream, "apple-user")
    _as_cross_site_post(flow)
    connected = await _form_post(flow, upstream, state=trip.state)
    assert connected.status_code == 200, connected.text
    assert "up is connected" in connected.text and await _connections(flow) == (1, 1)


async def test_a_callback_without_the_trip_cookie_is_refused_even_with_the_session(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    """Another browser (or a forged POST) has no trip cookie: the session cookie alone is not enough."""
    trip = await _connect_started(flow, upstream, "attacker")
    flow.http.cookies.delete(trip_cookie_name(flow.org.slug))
    assert flow.http.cookies.get(session_cookie_name(flow.org.slug))
    response = await _form_post(flow, upstream, state=trip.state)
    assert response.status_code == 400 and "different browser" in response.text
    assert await _refusals(flow) == ["other_browser"] and await _connections(flow) == (0, 0)
    assert not [r for r in upstream.requests if r[1] == "/token"]  # the code was never redeemed


async def test_the_trip_cookie_of_another_trip_does_not_bind_this_one(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    """Login CSRF: the attacker's state, delivered to a browser holding its own trip's cookie."""
    login_page = await flow.follow(await flow.authorize())
    await flow.login(login_page)
    attackers = await _start_connect(flow, upstream)
    await _start_connect(flow, upstream)  # the victim's own trip
    upstream.id_token = upstream.sign(upstream.claims(attackers.nonce, sub="attacker"))
    _as_cross_site_post(flow)
    response = await _form_post(flow, upstream, state=attackers.state)
    assert response.status_code == 400
    assert await _refusals(flow) == ["other_browser"] and await _connections(flow) == (0, 0)


async def test_the_trip_cookie_is_host_bound_cross_site_short_lived_and_stored_hashed(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    login_page = await flow.follow(await flow.authorize())
    handle = form_inputs(login_page.text)["req"]
    response = await flow.http.get(f"{flow.base}/providers/up/start?req={handle}")
    name = trip_cookie_name(flow.org.slug)
    assert name.startswith("__Host-")
    header = _set_cookie(response, name)
    attributes = {a.strip().lower() for a in header.split(";")[1:]}
    assert attributes == {
        "httponly",
        "secure",
        "path=/",
        "samesite=none",
        f"max-age={int(TRIP_TTL.total_seconds())}",
    }
    value = _trip_cookie(flow)
    assert len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) == 32  # 256 bits
    async with flow.services.db.tenant(flow.org.id) as session:
        trip = (await session.scalars(select(ProviderAuthorization))).one()
    assert trip.binding_hash == sha256_hex(value) and value not in repr(vars(trip))


async def test_a_connect_trip_whose_session_ended_is_refused(
    flow: Flow, upstream: Upstream, upstream_provider: UpstreamProvider
) -> None:
    """The trip names the user and the session; signing out in between ends the connection attempt."""
    trip = await _connect_started(flow, upstream, "late")
    async with flow.services.db.tenant(flow.org.id) as session:
        await session.execute(
            update(BrowserSession).where(BrowserSession.user_id == flow.user.id).values(ended_at=func.now())
        )
    _as_cross_site_post(flow)
    response = await _form_post(flow, upstream, state=trip.state)
    assert response.status_code == 400
    assert await _refusals(flow) == ["not_signed_in"] and await _connections(flow) == (0, 0)
