"""Sign in with a provider and connect one, through the real app, against a TLS upstream on 127.0.0.1.

The upstream (tests/hostile_upstream.py) behaves well unless a test makes it lie; every
refusal must be a clear page and an audit entry, with nothing linked and nothing stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from namoid.oauth.pkce import s256
from namoid.privacy import consent_ledger
from namoid.services import Services
from namoid.storage.models import (
    AuditEntry,
    BrowserSession,
    Organization,
    ProviderConnection,
    ProviderToken,
    UpstreamProvider,
)
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


async def _connect_trip(flow: Flow, upstream: Upstream, sub: str) -> tuple[Trip, httpx.Response]:
    """The flow's user signs in with a password, then connects the upstream identity ``sub``."""
    login_page = await flow.follow(await flow.authorize())
    await flow.login(login_page)
    trip = await _start(flow, upstream, f"{flow.base}/providers/up/connect")
    upstream.id_token = upstream.sign(upstream.claims(trip.nonce, sub=sub))
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
    trip = await _start(flow, upstream, f"{flow.base}/providers/up/connect")
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
