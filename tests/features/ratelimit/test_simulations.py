"""Crowd and attack simulations against the production default policies (issue 10 §1): a crowd
behind one address, a victim-lockout attempt, a client-id DoS (stuffing and spraying are in
test_stuffing.py). Run with ``-s`` to see the figures (lines starting ``SIMULATION``); each test
asserts the outcome its figures describe.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import AsyncExitStack

from namoid.storage.models import Organization
from tests.features.authorize.conftest import Flow
from tests.features.conftest import MakeClient
from tests.features.ratelimit.conftest import ClientAt, UseLimits, figure, flow_at
from tests.features.token.conftest import basic, exchange

CC = {"grant_type": "client_credentials"}
WRONG = "not the password"


async def test_a_crowd_behind_one_address_signs_in_sixty_times_a_minute(
    flow: Flow, client_at: ClientAt
) -> None:
    """(a) A standard OIDC client (or a campus at 9 a.m.): 60 full sign-ins, each from a new
    browser, all from one address, with the default policies."""
    statuses: Counter[str] = Counter()
    started = time.monotonic()
    for _ in range(60):
        async with client_at("198.51.100.200") as browser:
            relying_party = flow_at(flow, browser)
            params = await relying_party.sign_in_and_allow()
            token = await exchange(browser, flow.org, flow.rp, params["code"], flow.verifier)
            statuses[f"token {token.status_code}"] += 1
    elapsed = time.monotonic() - started
    figure(f"60 sign-ins from one address in {elapsed:.1f} s: {dict(statuses)}")
    assert elapsed < 60 and statuses == Counter({"token 200": 60})


async def test_victim_lockout_attempt(flow: Flow, client_at: ClientAt) -> None:
    """(c) An attacker keeps a chosen account locked from 20 addresses; the owner's own browser,
    which signed in before, still signs in; a browser that never did is refused."""
    async with client_at("198.51.100.210") as known:
        victim = flow_at(flow, known)
        assert "code" in await victim.sign_in_and_allow()
        known.cookies.delete(f"__Host-namoid-{flow.org.slug}")  # the session ends; the device cookie stays
        attack: Counter[int] = Counter()
        for number in range(20):
            async with client_at(f"203.0.113.{number + 1}") as http:
                attacker = flow_at(flow, http)
                page = await attacker.follow(await attacker.authorize())
                for _ in range(5):
                    attack[(await attacker.login(page, password=WRONG)).status_code] += 1
        async with client_at("198.51.100.211") as unknown:
            stranger = flow_at(flow, unknown)
            refused = await stranger.login(await stranger.follow(await stranger.authorize()))
        page = await victim.follow(await victim.authorize())
        owner = await victim.login(page)
    figure(
        f"victim lockout: attacker 100 attempts from 20 IPs ({attack[200]} checked, {attack[429]} refused); "
        f"unknown browser with the right password: {refused.status_code}; "
        f"the victim's known browser: {owner.status_code}"
    )
    assert attack[429] > 0 and refused.status_code == 429 and owner.status_code == 303


async def test_client_id_dos_attempt(
    org: Organization, make_client: MakeClient, client_at: ClientAt, use_limits: UseLimits
) -> None:
    """(d) 300 wrong secrets with a victim's client_id, from one address and from 50 addresses
    of one /64, while the real client asks for tokens from its own address."""
    rp = await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["api.read"])
    url = f"/o/{org.slug}/token"
    attacker_statuses: Counter[int] = Counter()
    real_statuses: Counter[int] = Counter()
    async with AsyncExitStack() as stack:
        real = await stack.enter_async_context(client_at("198.51.100.220"))
        attackers = [await stack.enter_async_context(client_at("203.0.113.66"))] + [
            await stack.enter_async_context(client_at(f"2001:db8:66:1::{i + 1:x}")) for i in range(50)
        ]
        for i in range(300):
            for attacker in (attackers[0], attackers[1 + i % 50]):
                guess = await attacker.post(url, data=CC, headers=basic(rp.client_id, f"guess-{i}"))
                attacker_statuses[guess.status_code] += 1
            if i % 5 == 0:
                answer = await real.post(url, data=CC, headers=basic(rp.client_id, rp.secret))
                real_statuses[answer.status_code] += 1
    figure(
        f"client-id DoS: attacker {sum(attacker_statuses.values())} wrong secrets "
        f"(one IPv4 address and 50 addresses of one /64): {dict(attacker_statuses)}; "
        f"real client from its own address: {dict(real_statuses)}"
    )
    assert attacker_statuses == Counter({401: 10, 429: 590})  # 5 failures per (client, address) each
    assert real_statuses == Counter({200: 60})


async def test_client_id_dos_with_a_small_client_budget(
    org: Organization, make_client: MakeClient, client_at: ClientAt, use_limits: UseLimits
) -> None:
    """(d) The issue's reproduction: ``token.client`` scaled down to 5/minute; five wrong secrets
    with the victim's client_id no longer spend the real client's budget."""
    await use_limits({"token.client": "5/minute"})
    rp = await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["api.read"])
    url = f"/o/{org.slug}/token"
    async with client_at("203.0.113.67") as attacker, client_at("198.51.100.221") as real:
        guesses = [
            (await attacker.post(url, data=CC, headers=basic(rp.client_id, "x"))).status_code
            for _ in range(5)
        ]
        answers = [
            (await real.post(url, data=CC, headers=basic(rp.client_id, rp.secret))).status_code
            for _ in range(5)
        ]
    figure(f"client-id DoS, token.client=5/minute: attacker {guesses}; real client {answers}")
    assert guesses == [401] * 5 and answers == [200] * 5
