"""The console cookie: valid only for the browser session and org it was issued for, and fresh."""

from __future__ import annotations

import uuid

from namoid.crypto import console_cookies

PEPPER = b"p" * 32
ORG = uuid.UUID(int=1)
NOW = 1_800_000_000
DAY = 86400


def test_a_cookie_verifies_for_its_own_session_only() -> None:
    cookie = console_cookies.issue(PEPPER, ORG, "sid-a", NOW)
    assert console_cookies.verify(PEPPER, cookie, ORG, "sid-a", NOW + 10, DAY)
    assert not console_cookies.verify(PEPPER, cookie, ORG, "sid-b", NOW + 10, DAY)
    assert not console_cookies.verify(PEPPER, cookie, uuid.UUID(int=2), "sid-a", NOW + 10, DAY)
    assert not console_cookies.verify(b"q" * 32, cookie, ORG, "sid-a", NOW + 10, DAY)


def test_an_old_future_or_malformed_cookie_fails() -> None:
    cookie = console_cookies.issue(PEPPER, ORG, "sid-a", NOW)
    assert not console_cookies.verify(PEPPER, cookie, ORG, "sid-a", NOW + DAY, DAY)
    assert not console_cookies.verify(PEPPER, cookie, ORG, "sid-a", NOW - 1, DAY)
    version, issued, mac = cookie.split(".")
    forged_time = f"{version}.{int(issued) + 1}.{mac}"
    flipped = f"{version}.{issued}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
    for bad in (None, "", forged_time, flipped, cookie + "x", "v1.1.x", "v2" + cookie[2:], "x" * 500):
        assert not console_cookies.verify(PEPPER, bad, ORG, "sid-a", NOW + 10, DAY)
