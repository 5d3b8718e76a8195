"""Cheap checks first: a request refused for its session, CSRF token or sign-in request spends
no shared budget, and such refusals are limited per IP (IPv6 per /64)."""

from __future__ import annotations

import httpx

from namoid.storage.models import AuthorizationRequest, BrowserSession
from tests.features.authorize.conftest import Flow
from tests.features.ratelimit.conftest import ClientAt, UseLimits, audit_count, flow_at

WRONG = "not the password"


async def test_forged_posts_from_one_64_spend_no_org_budget(
    flow: Flow, client_at: ClientAt, use_limits: UseLimits
) -> None:
    """The issue's attack: 30 cookie-less, CSRF-less POSTs from 30 addresses of one /64."""
    await use_limits({"login.org": "30/minute"})
    url = f"/o/{flow.org.slug}/login"
    statuses = []
    for host in range(1, 32):
        async with client_at(f"2001:db8:bad:1::{host:x}") as attacker:
            forged = {"email": flow.user.email, "password": WRONG, "csrf_token": "x", "req": "x"}
            statuses.append((await attacker.post(url, data=forged)).status_code)
    assert statuses == [403] * 30 + [429]  # interaction.refused_ip: 30 a minute for the whole /64
    async with client_at("198.51.100.80") as real:
        assert "code" in await flow_at(flow, real).sign_in_and_allow()


async def test_refused_requests_are_limited_per_ip_and_audited_once(
    flow: Flow, client_at: ClientAt, use_limits: UseLimits
) -> None:
    await use_limits({"interaction.refused_ip": "3/minute"})
    url = f"/o/{flow.org.slug}/login"
    async with client_at("2001:db8:bad:2::1") as first, client_at("2001:db8:bad:2::ffff") as second:
        statuses = [
            (await http.post(url, data={"csrf_token": "x"})).status_code for http in (first, second) * 3
        ]
    assert statuses == [403, 403, 403, 429, 429, 429]
    assert await audit_count(flow.services, flow.org, "csrf.rejected") == 3
    assert await audit_count(flow.services, flow.org, "ratelimit.refused") == 1  # one per window, not three
    async with client_at("2001:db8:bad:3::1") as elsewhere:  # another /64
        assert (await elsewhere.post(url, data={"csrf_token": "x"})).status_code == 403


async def test_a_valid_post_is_never_refused_by_its_ips_refusals(
    flow: Flow, client_at: ClientAt, use_limits: UseLimits
) -> None:
    await use_limits({"interaction.refused_ip": "2/minute"})
    async with client_at("198.51.100.81") as shared:
        for _ in range(5):
            await shared.post(f"/o/{flow.org.slug}/login", data={"csrf_token": "x"})
        assert "code" in await flow_at(flow, shared).sign_in_and_allow()  # same address, a real form


async def test_unauthenticated_pages_store_rows_only_within_their_ip_ceiling(
    flow: Flow, client_at: ClientAt, use_limits: UseLimits
) -> None:
    await use_limits({"authorize.ip": "5/minute", "interaction.ip": "5/minute"})
    async with client_at("198.51.100.82") as flood:
        flooder = flow_at(flow, flood)
        authorized = [await flooder.authorize() for _ in range(8)]
        assert [r.status_code for r in authorized] == [303] * 5 + [429] * 3
        pages = []
        for _ in range(8):
            flood.cookies.clear()  # each visit would start a fresh session
            pages.append(await flood.get(authorized[0].headers["location"]))
        assert [r.status_code for r in pages] == [200] * 5 + [429] * 3
    assert await flow.count(AuthorizationRequest) == 5
    assert await flow.count(BrowserSession) == 5
    assert await audit_count(flow.services, flow.org, "ratelimit.refused") == 2  # one per policy


async def test_logout_per_ip(flow: Flow, http: httpx.AsyncClient, use_limits: UseLimits) -> None:
    await use_limits({"logout.ip": "2/minute"})
    statuses = [(await http.get(f"/o/{flow.org.slug}/logout")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
