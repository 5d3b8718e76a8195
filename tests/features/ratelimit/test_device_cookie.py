"""Device cookies (OWASP "device cookies"): a known browser is exempt from the account lockout,
counted per device instead; unknown browsers back off as before."""

from __future__ import annotations

import httpx

from namoid.crypto import device_cookies
from namoid.ratelimit.login import account_key
from namoid.web.cookies import DEVICE_COOKIE_MAX_AGE, device_cookie_name
from tests.features.authorize.conftest import Flow
from tests.features.conftest import MakeUser
from tests.features.ratelimit.conftest import ClientAt, UseLimits, flow_at

WRONG = "not the password"


def _forget_session(flow: Flow, http: httpx.AsyncClient) -> None:
    """The session ended (expired, signed out); the device cookie stays."""
    http.cookies.delete(f"__Host-namoid-{flow.org.slug}")


async def _lock_account(flow: Flow, client_at: ClientAt, ips: int) -> None:
    for number in range(ips):
        async with client_at(f"203.0.113.{number + 1}") as http:
            attacker = flow_at(flow, http)
            page = await attacker.follow(await attacker.authorize())
            for _ in range(2):
                await attacker.login(page, password=WRONG)


async def test_a_known_browser_signs_in_through_a_lockout(
    flow: Flow, client_at: ClientAt, use_limits: UseLimits
) -> None:
    await use_limits({"login.account": "5/minute"})
    async with client_at("198.51.100.10") as known:
        victim = flow_at(flow, known)
        assert "code" in await victim.sign_in_and_allow()
        await _lock_account(flow, client_at, ips=5)
        async with client_at("198.51.100.11") as unknown:
            stranger = flow_at(flow, unknown)
            refused = await stranger.login(await stranger.follow(await stranger.authorize()))
            assert refused.status_code == 429
            assert refused.headers["ratelimit-policy"].startswith('"login.account";')
        _forget_session(flow, known)
        assert "code" in await victim.sign_in_and_allow()


def test_the_device_cookie_is_a_host_cookie_bound_to_the_account(flow: Flow) -> None:
    pepper = flow.services.keyring.pepper
    account = account_key(pepper, flow.org.id, flow.user.email)
    cookie = device_cookies.issue(pepper, account, 1_000_000)
    assert account not in cookie and flow.user.email not in cookie
    assert device_cookies.verify(pepper, cookie, account, 1_000_060, DEVICE_COOKIE_MAX_AGE) is not None
    other = account_key(pepper, flow.org.id, "someone.else@example.com")
    assert device_cookies.verify(pepper, cookie, other, 1_000_060, DEVICE_COOKIE_MAX_AGE) is None
    expired = 1_000_000 + DEVICE_COOKIE_MAX_AGE + 1
    assert device_cookies.verify(pepper, cookie, account, expired, DEVICE_COOKIE_MAX_AGE) is None
    tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    assert device_cookies.verify(pepper, tampered, account, 1_000_060, DEVICE_COOKIE_MAX_AGE) is None
    future = device_cookies.issue(pepper, account, 2_000_000)  # issued "later" than now: refused
    assert device_cookies.verify(pepper, future, account, 1_000_060, DEVICE_COOKIE_MAX_AGE) is None


async def test_sign_in_sets_the_device_cookie_with_host_attributes(flow: Flow) -> None:
    page = await flow.follow(await flow.authorize())
    signed_in = await flow.login(page)
    [header] = [
        value
        for value in signed_in.headers.get_list("set-cookie")
        if value.startswith(device_cookie_name(flow.org.slug) + "=")
    ]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"secure", "httponly", "path", "max-age", "samesite"} <= attributes and "domain" not in attributes
    assert "samesite=lax" in header.lower() and f"max-age={DEVICE_COOKIE_MAX_AGE}" in header.lower()
    assert device_cookie_name(flow.org.slug).startswith("__Host-")


async def test_another_accounts_device_cookie_does_not_exempt(
    flow: Flow, client_at: ClientAt, make_user: MakeUser, use_limits: UseLimits
) -> None:
    await use_limits({"login.account": "5/minute"})
    own = await make_user()
    async with client_at("198.51.100.20") as attacker_browser:
        attacker = flow_at(flow, attacker_browser)
        page = await attacker.follow(await attacker.authorize())
        assert (await attacker.login(page, email=own.email)).status_code == 303  # his own account
        await _lock_account(flow, client_at, ips=5)
        _forget_session(flow, attacker_browser)
        page = await attacker.follow(await attacker.authorize())
        refused = await attacker.login(page)  # the victim's account, with his own device cookie
        assert refused.status_code == 429
        assert refused.headers["ratelimit-policy"].startswith('"login.account";')


async def test_a_stolen_device_cookie_guesses_no_faster(
    flow: Flow, client_at: ClientAt, use_limits: UseLimits
) -> None:
    await use_limits({"login.device": "3/minute"})
    async with client_at("198.51.100.30") as known:
        victim = flow_at(flow, known)
        assert "code" in await victim.sign_in_and_allow()
        _forget_session(flow, known)
        page = await victim.follow(await victim.authorize())
        statuses = [(await victim.login(page, password=WRONG)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = await victim.login(page)
        assert refused.status_code == 429 and refused.headers["ratelimit-policy"].startswith(
            '"login.device";'
        )
