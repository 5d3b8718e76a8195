"""Attack and crowd simulations against the production default policies (issue 10 §1).

Run with ``-s`` to see the figures; every line starts with ``SIMULATION``. Each test asserts
the outcome the figures describe, so a policy change that breaks one fails here.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import AsyncExitStack

import httpx

from namoid.storage.models import Organization
from tests.features.authorize.conftest import Flow, form_inputs
from tests.features.conftest import PASSWORD, MakeClient, MakeUser
from tests.features.ratelimit.conftest import ClientAt, UseLimits, audit_count, flow_at
from tests.features.token.conftest import basic, exchange

ACCOUNTS = 20
GUESSES = 25
IPS = 40
#: Where the leaked (right) password sits in each real account's guess list.
RIGHT_AT = 20
OUTCOME = {200: "checked_wrong", 303: "signed_in", 429: "refused"}
CC = {"grant_type": "client_credentials"}
WRONG = "not the password"


def figure(text: str) -> None:
    print(f"\nSIMULATION {text}")


async def _login_fields(flow: Flow, http: httpx.AsyncClient) -> dict[str, str]:
    browser = flow_at(flow, http)
    return form_inputs((await browser.follow(await browser.authorize())).text)


async def _stuff(
    flow: Flow, browsers: list[httpx.AsyncClient], emails: list[str], real: list[str]
) -> Counter[str]:
    """``GUESSES`` passwords for each of ``emails``, rotating over ``browsers``; the leaked one
    (right for the ``real`` accounts) comes at ``RIGHT_AT``."""
    sessions = [await _login_fields(flow, browser) for browser in browsers]
    outcomes: Counter[str] = Counter()
    url = f"/o/{flow.org.slug}/login"
    attempt = 0
    for guess in range(GUESSES):
        for email in emails:
            at = attempt % len(browsers)
            password = PASSWORD if guess == RIGHT_AT and email in real else f"guess-{guess}"
            status = (
                await browsers[at].post(url, data=sessions[at] | {"email": email, "password": password})
            ).status_code
            outcomes[OUTCOME[status]] += 1
            attempt += 1
    return outcomes


async def _accounts(flow: Flow, make_user: MakeUser) -> tuple[list[str], list[str]]:
    real = [(await make_user()).email for _ in range(4)]
    return real + [f"victim-{i}@example.com" for i in range(ACCOUNTS - len(real))], real


def _report(name: str, outcomes: Counter[str], addresses: str) -> int:
    checked = outcomes["checked_wrong"] + outcomes["signed_in"]
    figure(
        f"{name}: {sum(outcomes.values())} attempts ({ACCOUNTS} accounts x {GUESSES} guesses, {addresses}): "
        f"{checked} passwords checked, {outcomes['refused']} refused with 429, "
        f"{outcomes['signed_in']} accounts taken over"
    )
    return checked


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


async def test_credential_stuffing_many_accounts_many_ips(
    flow: Flow, client_at: ClientAt, make_user: MakeUser
) -> None:
    """(b) Stuffing spread over many IPv4 addresses: the per-account policies stop it."""
    emails, real = await _accounts(flow, make_user)
    async with AsyncExitStack() as stack:
        browsers = [await stack.enter_async_context(client_at(f"203.0.113.{100 + i}")) for i in range(IPS)]
        outcomes = await _stuff(flow, browsers, emails, real)
    checked = _report("credential stuffing over IPv4", outcomes, f"{IPS} IPs")
    lockouts = await audit_count(flow.services, flow.org, "login.bruteforce_suspected")
    figure(f"credential stuffing over IPv4: {lockouts} lockouts audited")
    assert outcomes["signed_in"] == 0
    assert checked <= ACCOUNTS * 10  # login.account: 10 failures a minute per account


async def test_credential_stuffing_across_one_ipv6_64(
    flow: Flow, client_at: ClientAt, make_user: MakeUser
) -> None:
    """(b) Stuffing from fresh addresses of one IPv6 /64: one subscriber, one failure budget."""
    emails, real = await _accounts(flow, make_user)
    async with AsyncExitStack() as stack:
        browsers = [
            await stack.enter_async_context(client_at(f"2001:db8:5:6::{i + 1:x}")) for i in range(IPS)
        ]
        outcomes = await _stuff(flow, browsers, emails, real)
    checked = _report("credential stuffing across one IPv6 /64", outcomes, f"{IPS} addresses of one /64")
    assert outcomes["signed_in"] == 0
    assert checked == 30  # login.ip_failures: 30 a minute for the whole /64


async def test_password_spraying_from_one_ip(flow: Flow) -> None:
    url = f"/o/{flow.org.slug}/login"
    fields = form_inputs((await flow.follow(await flow.authorize())).text)
    sprayed = {"password": "Summer2026!"}  # pragma: allowlist secret (the sprayed guess)
    statuses: Counter[int] = Counter()
    for i in range(100):
        response = await flow.http.post(url, data=fields | sprayed | {"email": f"s{i}@example.com"})
        statuses[response.status_code] += 1
    figure(f"password spraying: 100 accounts from one IP: {statuses[200]} checked, {statuses[429]} refused")
    assert statuses == Counter({200: 30, 429: 70})  # login.ip_failures: 30 a minute


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
