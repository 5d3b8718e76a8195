"""Brute-force defence at POST /login: the account+IP lockout first, then a per-account back-off."""

from __future__ import annotations

import asyncio
import json

from namoid import events
from namoid.ratelimit.login import account_key
from tests.features.authorize.conftest import Flow
from tests.features.ratelimit.conftest import ClientAt, UseLimits, audit_count, flow_at, security_events

WRONG = "not the password"


async def test_failures_lock_the_account_ip_pair_only(flow: Flow, client_at: ClientAt) -> None:
    page = await flow.follow(await flow.authorize())
    for _ in range(5):
        failed = await flow.login(page, password=WRONG)
        assert failed.status_code == 200 and "do not match" in failed.text
    locked = await flow.login(page)  # even the right password: the pair is locked
    assert locked.status_code == 429
    assert "Too many attempts" in locked.text and "text/html" in locked.headers["content-type"]
    assert 0 < int(locked.headers["retry-after"]) <= 60
    assert locked.headers["ratelimit-policy"] == '"login.account_ip";q=5;w=60'
    assert locked.headers["ratelimit"].startswith('"login.account_ip";r=0;t=')
    assert await audit_count(flow.services, flow.org, "login.bruteforce_suspected") == 1
    assert await audit_count(flow.services, flow.org, "login.failed") == 5
    [event] = await security_events(flow.services, flow.org, "login.bruteforce_suspected")
    assert event.subject == events.user_subject(flow.user.id)
    assert event.payload["policies"] == ["login.account_ip"]
    assert event.payload["client_id"] == flow.rp.client_id
    async with client_at("198.51.100.20") as other:  # the real user, elsewhere, is not locked out
        assert "code" in await flow_at(flow, other).sign_in_and_allow()


async def test_failures_across_ips_back_off_the_account_then_end(
    flow: Flow, client_at: ClientAt, use_limits: UseLimits
) -> None:
    await use_limits({"login.account_ip": "2/minute", "login.account": "3/second"})
    async with client_at("198.51.100.1") as first, client_at("198.51.100.2") as second:
        for http, tries in ((first, 2), (second, 1)):
            attacker = flow_at(flow, http)
            page = await attacker.follow(await attacker.authorize())
            for _ in range(tries):
                assert (await attacker.login(page, password=WRONG)).status_code == 200
    assert await audit_count(flow.services, flow.org, "login.bruteforce_suspected") == 2  # pair, then account
    lockouts = await security_events(flow.services, flow.org, "login.bruteforce_suspected")
    assert sorted(policy for event in lockouts for policy in event.payload["policies"]) == [
        "login.account",
        "login.account_ip",
    ]
    async with client_at("198.51.100.3") as third:
        user = flow_at(flow, third)
        page = await user.follow(await user.authorize())
        refused = await user.login(page)
        assert refused.status_code == 429 and refused.headers["ratelimit-policy"].startswith(
            '"login.account"'
        )
        await asyncio.sleep(1.1)  # the back-off ends by itself
        assert (await user.login(page)).status_code == 303


async def test_login_per_ip_counts_failures_never_successes(flow: Flow, use_limits: UseLimits) -> None:
    await use_limits({"login.ip_failures": "3/minute"})
    for _ in range(10):  # a crowd behind one address signing in: counted by nothing but the ceiling
        flow.http.cookies.clear()
        assert "code" in await flow.sign_in_and_allow()
    flow.http.cookies.clear()
    page = await flow.follow(await flow.authorize())
    statuses = [
        (await flow.login(page, email=f"u{i}@example.com", password=WRONG)).status_code for i in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    refused = await flow.login(page, email="u9@example.com", password=WRONG)
    assert refused.headers["ratelimit-policy"].startswith('"login.ip_failures";')
    assert (
        await audit_count(flow.services, flow.org, "login.failed") == 3
    )  # refused ones cost no password check


async def test_login_per_ip_ceiling_counts_every_attempt(flow: Flow, use_limits: UseLimits) -> None:
    await use_limits({"login.ip": "3/minute"})
    page = await flow.follow(await flow.authorize())
    statuses = [(await flow.login(page, csrf_token="forged")).status_code for _ in range(4)]
    assert statuses == [403, 403, 403, 429]
    refused = await flow.login(page)
    assert refused.status_code == 429 and refused.headers["ratelimit-policy"].startswith('"login.ip";')


async def test_ipv6_addresses_count_per_64(flow: Flow, client_at: ClientAt, use_limits: UseLimits) -> None:
    await use_limits({"login.ip_failures": "3/minute"})
    statuses = []
    for host in range(1, 6):  # five addresses of one /64: one subscriber
        async with client_at(f"2001:db8:7:1::{host:x}") as http:
            guesser = flow_at(flow, http)
            page = await guesser.follow(await guesser.authorize())
            statuses.append(
                (await guesser.login(page, email=f"g{host}@example.com", password=WRONG)).status_code
            )
    assert statuses == [200, 200, 200, 429, 429]
    async with client_at("2001:db8:7:2::1") as neighbour:  # the next /64 is someone else
        other = flow_at(flow, neighbour)
        page = await other.follow(await other.authorize())
        assert (await other.login(page, email="n@example.com", password=WRONG)).status_code == 200


async def test_lockout_of_an_unknown_email_names_its_key_never_the_email(
    flow: Flow, use_limits: UseLimits
) -> None:
    await use_limits({"login.account_ip": "2/minute"})
    email = "ghost.account@example.com"
    page = await flow.follow(await flow.authorize())
    for _ in range(2):
        assert (await flow.login(page, email=email, password=WRONG)).status_code == 200
    assert (await flow.login(page, email=email, password=WRONG)).status_code == 429
    [event] = await security_events(flow.services, flow.org, "login.bruteforce_suspected")
    key = account_key(flow.services.keyring.pepper, flow.org.id, email)
    assert event.subject == events.opaque_subject(f"account:{key}")
    assert "ghost" not in json.dumps([event.subject, event.payload])
