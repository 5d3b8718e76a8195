"""Credential-stuffing and password-spraying simulations against the production defaults.

Run with ``-s`` to see the figures (attempts made vs. passwords actually checked).
"""

from __future__ import annotations

from collections import Counter
from contextlib import AsyncExitStack

import httpx

from tests.features.authorize.conftest import Flow, form_inputs
from tests.features.conftest import PASSWORD, MakeUser
from tests.features.ratelimit.conftest import ClientAt, audit_count, flow_at

ACCOUNTS = 20
GUESSES = 25
IPS = 40
#: Where the leaked (right) password sits in each real account's guess list.
RIGHT_AT = 20


async def _login_fields(flow: Flow, http: httpx.AsyncClient) -> dict[str, str]:
    browser = flow_at(flow, http)
    return form_inputs((await browser.follow(await browser.authorize())).text)


async def test_credential_stuffing_many_accounts_many_ips(
    flow: Flow, client_at: ClientAt, make_user: MakeUser
) -> None:
    real = [(await make_user()).email for _ in range(4)]
    emails = real + [f"victim-{i}@example.com" for i in range(ACCOUNTS - len(real))]
    outcomes: Counter[str] = Counter()
    url = f"/o/{flow.org.slug}/login"
    async with AsyncExitStack() as stack:
        browsers = [await stack.enter_async_context(client_at(f"203.0.113.{100 + i}")) for i in range(IPS)]
        sessions = [await _login_fields(flow, browser) for browser in browsers]
        attempt = 0
        for guess in range(GUESSES):
            for email in emails:
                ip = attempt % IPS
                password = PASSWORD if guess == RIGHT_AT and email in real else f"guess-{guess}"
                data = sessions[ip] | {"email": email, "password": password}
                status = (await browsers[ip].post(url, data=data)).status_code
                outcomes[{200: "checked_wrong", 303: "signed_in", 429: "refused"}[status]] += 1
                attempt += 1
    checked = outcomes["checked_wrong"] + outcomes["signed_in"]
    print(
        f"\ncredential stuffing: {attempt} attempts ({ACCOUNTS} accounts x {GUESSES} guesses, {IPS} IPs): "
        f"{checked} passwords checked, {outcomes['refused']} refused with 429, "
        f"{outcomes['signed_in']} accounts taken over; "
        f"{await audit_count(flow.services, flow.org, 'login.bruteforce_suspected')} lockouts audited"
    )
    assert outcomes["signed_in"] == 0
    assert checked <= ACCOUNTS * 10  # login.account: 10 failures a minute per account
    assert outcomes["refused"] >= attempt - ACCOUNTS * 10


async def test_password_spraying_from_one_ip(flow: Flow) -> None:
    url = f"/o/{flow.org.slug}/login"
    fields = form_inputs((await flow.follow(await flow.authorize())).text)
    sprayed = {"password": "Summer2026!"}  # pragma: allowlist secret (the sprayed guess)
    statuses: Counter[int] = Counter()
    for i in range(100):
        response = await flow.http.post(url, data=fields | sprayed | {"email": f"s{i}@example.com"})
        statuses[response.status_code] += 1
    print(f"\npassword spraying: 100 accounts from one IP: {statuses[200]} checked, {statuses[429]} refused")
    assert statuses == Counter({200: 20, 429: 80})  # login.ip: 20 a minute
