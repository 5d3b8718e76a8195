"""Credential-stuffing and password-spraying simulations against the production defaults
(issue 10 §1 (b)). Run with ``-s`` to see the figures (lines starting ``SIMULATION``).
"""

from __future__ import annotations

from collections import Counter
from contextlib import AsyncExitStack

import httpx

from tests.features.authorize.conftest import Flow, form_inputs
from tests.features.conftest import PASSWORD, MakeUser
from tests.features.ratelimit.conftest import ClientAt, audit_count, figure, flow_at

ACCOUNTS = 20
GUESSES = 25
IPS = 40
#: Where the leaked (right) password sits in each real account's guess list.
RIGHT_AT = 20
OUTCOME = {200: "checked_wrong", 303: "signed_in", 429: "refused"}


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
