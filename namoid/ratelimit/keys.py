"""What the IP-keyed policies count by (DESIGN.md §5b): one key per address, IPv6 per prefix.

An IPv6 host typically gets a whole /64 (RFC 6177 §2, RFC 7421 §1) and may pick any of its
2⁶⁴ addresses at will (RFC 8981 temporary addresses): keyed by full address, one subscriber
would be 2⁶⁴ fresh identities. IPv6 addresses are therefore counted by their prefix
(``NAMOID_RATELIMIT_IPV6_PREFIX``, default 64); IPv4-mapped IPv6 addresses count as IPv4.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from starlette.requests import Request

if TYPE_CHECKING:  # services.py builds the limiter from this package
    from namoid.services import Services

DEFAULT_IPV6_PREFIX = 64
#: The key of a request whose address is unknown (no socket peer): all of them share one window.
UNKNOWN_IP = "unknown"


def ip_key(address: str | None, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """``address`` as a rate-limit key: IPv4 as is, IPv6 as its ``/ipv6_prefix`` network."""
    if not address:
        return UNKNOWN_IP
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # the middleware passes an unparsable peer through as is
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, ipv6_prefix), strict=False))
    return str(parsed)


def request_ip(request: Request) -> str:
    """The IP key of ``request``: its client address (as the middleware found it), keyed by
    the limiter's IPv6 prefix. Every policy keyed by IP takes its key from here."""
    services: Services = request.app.state.services
    return services.limiter.ip_key(request.scope["state"].get("client_ip"))
