"""The outbound address policy against hostile URLs (issue 10 §4.4, DESIGN.md §8)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import httpx
import pytest

from namoid.outbound import DestinationRefused, OutboundPolicy, ResolutionFailed, policy_for
from namoid.outbound.resolver import IPAddress
from namoid.settings import Settings
from tests.resolver import ScriptedResolver

PRODUCTION = OutboundPolicy()
DEV = OutboundPolicy(allow_loopback=True)
ALLOW_INTERNAL = OutboundPolicy(
    allowed_networks=tuple(
        ipaddress.ip_network(n) for n in ("10.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10", "fd00::/8")
    )
)

HOSTILE = [
    # the five of the issue
    "https://169.254.169.254/",
    "https://10.0.0.5:8443",
    "https://[::1]",
    "https://0x7f000001/",
    "https://metadata.google.internal/",
    # numbers a resolver would read as 127.0.0.1
    "https://2130706433/",
    "https://127.1/",
    "https://0x7f.0.0.1/",
    "https://127.0.0.1.1/",
    # loopback, private, link-local, shared, multicast, unspecified, reserved, not routable
    "https://127.0.0.1/",
    "https://192.168.1.1/",
    "https://172.16.0.1/",
    "https://169.254.1.1/",
    "https://100.64.0.1/",
    "https://100.100.100.200/",
    "https://224.0.0.1/",
    "https://239.255.255.250/",
    "https://0.0.0.0/",
    "https://255.255.255.255/",
    "https://240.0.0.1/",
    "https://192.0.2.1/",
    "https://198.18.0.1/",
    "https://192.0.0.192/",
    "https://[fd00:ec2::254]/",
    "https://[fc00::1]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[fec0::1]/",
    "https://[ff02::1]/",
    "https://[ff0e::1]/",
    "https://[::]/",
    "https://[2001:db8::1]/",
    # IPv4 inside IPv6: mapped, 6to4, NAT64, deprecated compatible
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::ffff:a00:5]/",
    "https://[2002:a9fe:a9fe::]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[64:ff9b::10.0.0.5]/",
    "https://[::127.0.0.1]/",
    # metadata by name, however spelled
    "https://METADATA.google.internal./",
    "https://metadata/",
    "https://metadata.goog/",
    "https://instance-data/",
    # not https
    "http://93.184.215.14/",
    "ftp://93.184.215.14/",
    "file:///etc/passwd",
]

PUBLIC = [
    "https://93.184.215.14/",
    "https://hooks.example.com:8443/x",
    "https://[2606:4700::1111]/",
    "https://[::ffff:93.184.215.14]/",
    "https://[64:ff9b::5db8:d70e]/",
    "https://[2002:5db8:d70e::1]/",
    "https://xn--bcher-kva.example/",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_refused_in_production(url: str) -> None:
    with pytest.raises(DestinationRefused):
        PRODUCTION.check_url(httpx.URL(url))


@pytest.mark.parametrize("url", PUBLIC)
def test_public_destinations_pass(url: str) -> None:
    PRODUCTION.check_url(httpx.URL(url))


@pytest.mark.parametrize(
    ("url", "policy", "allowed"),
    [
        ("https://127.0.0.1/", DEV, True),  # dev mode: a local receiver
        ("http://127.0.0.1:8080/", DEV, True),
        ("http://localhost/", DEV, True),
        ("https://[::1]/", DEV, True),
        ("https://10.0.0.5/", DEV, False),  # ... and nothing else inside
        ("http://93.184.215.14/", DEV, False),  # http only to loopback
        ("https://169.254.169.254/", DEV, False),
        ("https://10.0.0.5/", ALLOW_INTERNAL, True),  # an allow-list opens what it names
        ("https://[::ffff:10.0.0.5]/", ALLOW_INTERNAL, True),
        ("http://10.0.0.5/", ALLOW_INTERNAL, False),  # ... over https only
        ("https://192.168.1.1/", ALLOW_INTERNAL, False),
        ("https://169.254.1.1/", ALLOW_INTERNAL, True),
        ("https://169.254.169.254/", ALLOW_INTERNAL, False),  # metadata never, whatever the list says
        ("https://169.254.170.2/", ALLOW_INTERNAL, False),
        ("https://100.100.100.200/", ALLOW_INTERNAL, False),
        ("https://[fd00:ec2::254]/", ALLOW_INTERNAL, False),
        ("https://metadata.google.internal/", ALLOW_INTERNAL, False),
    ],
)
def test_dev_mode_and_the_allow_list_open_only_their_ranges(
    url: str, policy: OutboundPolicy, allowed: bool
) -> None:
    if allowed:
        policy.check_url(httpx.URL(url))
    else:
        with pytest.raises(DestinationRefused):
            policy.check_url(httpx.URL(url))


def test_the_allow_list_never_admits_unspecified_or_multicast() -> None:
    everything = OutboundPolicy(allowed_networks=(ipaddress.ip_network("0.0.0.0/0"),))
    assert everything.refusal(ipaddress.ip_address("10.0.0.5")) is None
    for address in ("0.0.0.0", "224.0.0.1", "169.254.169.254"):  # noqa: S104 (a destination, not a bind)
        assert everything.refusal(ipaddress.ip_address(address)) is not None, address


def test_policy_from_settings() -> None:
    production = policy_for(Settings(database_url="sqlite+aiosqlite:///x.db"))
    assert production.allow_loopback is False and production.allowed_networks == ()
    configured = policy_for(
        Settings(dev_mode=True, outbound_allow_networks="10.20.0.0/16, fd12::/16")  # type: ignore[arg-type]
    )
    assert configured.allow_loopback is True
    assert configured.allowed_networks == (
        ipaddress.ip_network("10.20.0.0/16"),
        ipaddress.ip_network("fd12::/16"),
    )


@pytest.mark.parametrize("value", ["10.0.0.5/8", "not-a-network", "10.0.0.0/33"])
def test_a_malformed_allow_list_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="outbound_allow_networks"):
        Settings(outbound_allow_networks=value)  # type: ignore[arg-type]


async def test_a_name_is_refused_if_any_address_is() -> None:
    dns = ScriptedResolver({"mixed.example": [["93.184.215.14", "10.0.0.5"]]})
    with pytest.raises(DestinationRefused, match=r"mixed\.example \(10\.0\.0\.5\) is a private address"):
        await OutboundPolicy(resolve=dns).addresses_for("mixed.example", 443)


@pytest.mark.parametrize(
    "answer", [["127.0.0.1"], ["169.254.169.254"], ["::ffff:10.0.0.1"], ["100.64.3.4"], ["ff02::1"]]
)
async def test_names_pointing_inside_are_refused(answer: list[str]) -> None:
    dns = ScriptedResolver({"rebind.example": [answer]})
    with pytest.raises(DestinationRefused):
        await OutboundPolicy(resolve=dns).check("https://rebind.example/hook")


async def test_a_public_name_gives_its_addresses_from_one_lookup() -> None:
    dns = ScriptedResolver({"hooks.example.com": [["93.184.215.14", "2606:4700::1111"]]})
    addresses = await OutboundPolicy(resolve=dns).addresses_for("hooks.example.com", 443)
    assert [str(a) for a in addresses] == ["93.184.215.14", "2606:4700::1111"]
    assert dns.asked == ["hooks.example.com"]


async def test_lookup_failures_are_not_refusals() -> None:
    async def slow(host: str, port: int) -> Sequence[IPAddress]:
        await asyncio.sleep(10)
        return []

    with pytest.raises(ResolutionFailed, match="does not resolve"):
        await OutboundPolicy(resolve=ScriptedResolver({})).addresses_for("nowhere.example", 443)
    with pytest.raises(ResolutionFailed, match=r"within 0\.1 s"):
        await OutboundPolicy(resolve=slow, resolve_timeout=0.1).addresses_for("slow.example", 443)
