"""Which destinations outbound HTTP may reach: the URL, host and address rules (DESIGN.md §8).

Pure checks plus one lookup (``OutboundPolicy.addresses_for``). A host is either a
canonical IP literal or a plain DNS name; anything a resolver might read as a number in
another notation (``0x7f000001``, ``2130706433``, ``127.1``, ``0177.0.0.1``: the WHATWG URL
"ends in a number" rule) is refused outright. Every address a name resolves to must be
public (``ipaddress``'s ``is_global``, minus multicast and site-local); IPv4-mapped, 6to4
(RFC 3056) and NAT64 (RFC 6052) addresses are judged by the IPv4 address they carry.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import httpx

from namoid.outbound.resolver import IPAddress, IPNetwork, Resolver, system_resolver

#: Cloud instance metadata services: refused always, even when an allow-list covers them.
METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    )
)
METADATA_HOSTS: Final = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
#: RFC 6598 shared address space (carrier-grade NAT).
SHARED_ADDRESS_SPACE: Final = ipaddress.ip_network("100.64.0.0/10")
NAT64_PREFIX: Final = ipaddress.ip_network("64:ff9b::/96")
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
MAX_HOST_LENGTH: Final = 253


class DestinationRefused(Exception):
    """The URL or an address it resolves to is not one this policy lets us reach."""


class ResolutionFailed(Exception):
    """The host name did not resolve (or not in time): a transient failure, not a refusal."""


def parse_host(host: str) -> IPAddress | str:
    """The IP literal, or the lower-cased DNS name (one trailing dot dropped); refuse anything else."""
    name = host.lower().removesuffix(".")
    if "%" in name:
        raise DestinationRefused(f"{host!r} carries a zone or an escape")
    if ":" in name:
        try:
            return ipaddress.IPv6Address(name.strip("[]"))
        except ValueError:
            raise DestinationRefused(f"{host!r} is not a valid IPv6 address") from None
    labels = name.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            return ipaddress.IPv4Address(name)
        except ValueError:
            raise DestinationRefused(f"{host!r} is numeric but not a canonical IPv4 address") from None
    if len(name) > MAX_HOST_LENGTH or not all(_LABEL.fullmatch(label) for label in labels):
        raise DestinationRefused(f"{host!r} is not a valid host name")
    if name in METADATA_HOSTS:
        raise DestinationRefused(f"{host!r} is a cloud metadata service")
    return name


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4 or NAT64 (well-known prefix) IPv6 address stands for."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Where outbound HTTP may go, and how host names are looked up.

    ``allow_loopback`` (embedded dev mode) lets loopback addresses through, and plain http to
    a loopback literal or ``localhost``. ``allowed_networks`` (NAMOID_OUTBOUND_ALLOW_NETWORKS)
    lets chosen non-public ranges through. Neither ever admits a metadata, unspecified or
    multicast address. ``resolve`` is the DNS lookup (tests inject their own).
    """

    allow_loopback: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    resolve: Resolver = system_resolver
    resolve_timeout: float = 5.0

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached, or None when it may."""
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = self.refusal(embedded)
            return f"{reason} ({embedded} inside)" if reason else None
        if address in METADATA_ADDRESSES:
            return "a cloud metadata address"
        if address.is_unspecified:
            return "the unspecified address"
        if address.is_multicast:
            return "a multicast address"
        if any(address in network for network in self.allowed_networks):
            return None
        if address.is_loopback:
            return None if self.allow_loopback else "a loopback address"
        if address.is_link_local:
            return "a link-local address"
        if address in SHARED_ADDRESS_SPACE:
            return "a shared (carrier-grade NAT) address"
        if address.is_private:
            return "a private address"
        if address.is_reserved:
            return "a reserved address"
        if not address.is_global or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local):
            return "not a public address"
        return None

    def check_url(self, url: httpx.URL) -> None:
        """Scheme and host rules of one request (each redirect hop too).

        https only; plain http only when loopback is allowed and the host is a loopback literal
        or ``localhost`` (a local receiver while trying NamoID out).
        """
        host = parse_host(url.raw_host.decode("ascii"))
        if not isinstance(host, str):
            self._refuse_address(url.host, host)
        if url.scheme == "https":
            return
        loopback = host == "localhost" or (not isinstance(host, str) and host.is_loopback)
        if url.scheme != "http" or not (self.allow_loopback and loopback):
            raise DestinationRefused(
                "the URL must be https (plain http only to a loopback address in embedded dev mode)"
            )

    async def addresses_for(self, host: str, port: int) -> Sequence[IPAddress]:
        """The addresses to connect to: ``host`` itself if a literal, else every address it resolves to.

        Refuses if any one of them is refused, so a name with one good and one bad address
        cannot be used to reach the bad one.
        """
        target = parse_host(host)
        if not isinstance(target, str):
            self._refuse_address(host, target)
            return [target]
        try:
            async with asyncio.timeout(self.resolve_timeout):
                addresses = list(await self.resolve(target, port))
        except TimeoutError:
            raise ResolutionFailed(f"{host} did not resolve within {self.resolve_timeout:g} s") from None
        except OSError as exc:
            raise ResolutionFailed(f"{host} does not resolve ({exc.strerror or exc})") from None
        if not addresses:
            raise ResolutionFailed(f"{host} resolves to no address")
        for address in addresses:
            self._refuse_address(host, address)
        return addresses

    async def check(self, url: str) -> None:
        """The whole check of a URL before it is stored (registration): rules, lookup, addresses."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise DestinationRefused(f"the URL is malformed: {exc}") from None
        self.check_url(parsed)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        await self.addresses_for(parsed.raw_host.decode("ascii"), port)

    def _refuse_address(self, host: str, address: IPAddress) -> None:
        if (reason := self.refusal(address)) is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise DestinationRefused(f"{shown} is {reason}")
