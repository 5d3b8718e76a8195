"""The IP key of the IP-keyed policies: IPv4 as is, IPv6 per configurable prefix."""

from __future__ import annotations

import pytest

from namoid.ratelimit.keys import UNKNOWN_IP, ip_key
from namoid.ratelimit.limiter import Limiter
from namoid.settings import Settings


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # IPv4-mapped: the IPv4 address
        (None, UNKNOWN_IP),
        ("", UNKNOWN_IP),
        ("not-an-address", "not-an-address"),
    ],
)
def test_ip_key(address: str | None, key: str) -> None:
    assert ip_key(address) == key


def test_ipv6_prefix_is_configurable() -> None:
    assert ip_key("2001:db8:1:2:3::1", 48) == "2001:db8:1::/48"
    assert ip_key("2001:db8:1:2:3::1", 128) == "2001:db8:1:2:3::1/128"
    assert Limiter(ipv6_prefix=56).ip_key("2001:db8:1:2ff::1") == "2001:db8:1:200::/56"


def test_the_prefix_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().ratelimit_ipv6_prefix == 64
    monkeypatch.setenv("NAMOID_RATELIMIT_IPV6_PREFIX", "48")
    assert Settings().ratelimit_ipv6_prefix == 48
