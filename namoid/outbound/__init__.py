"""One guarded outbound HTTP client for everything that calls out (DESIGN.md §8).

Webhooks today; upstream providers (discovery, JWKS, token endpoint), SMS and email APIs
next. The rules, for every request and every redirect hop:

- https only; plain http only in embedded dev mode, and only to a loopback literal or
  ``localhost``.
- The host is a canonical IP literal or a DNS name. Numeric spellings a resolver would
  read as an address (``0x7f000001``, ``2130706433``, ``127.1``) and zone ids are refused,
  and so are the cloud metadata host names (``metadata.google.internal``, …).
- The name is resolved once (with a timeout) and refused if ANY address is loopback,
  private (RFC 1918, ULA), link-local, shared/CGNAT (RFC 6598), multicast, unspecified,
  reserved or otherwise not public, judging IPv4-mapped, 6to4 and NAT64 addresses by the
  IPv4 address inside. Cloud metadata addresses (169.254.169.254, fd00:ec2::254,
  100.100.100.200, …) are refused even when allowed by configuration.
- The connection goes to an address that was checked, and TLS (system trust store plus an
  optional CA file; certificate and host name verified, SNI set) runs against the URL's
  host name: no second lookup, no DNS-rebinding window.
- No redirects unless the caller asks; bounded connect/read/write times and a deadline on
  the whole exchange; the response body is capped. Nothing here logs a body.

Which non-public destinations are allowed is the caller's ``OutboundPolicy``, built from
settings by ``policy_for``: production refuses them all; dev mode allows loopback;
NAMOID_OUTBOUND_ALLOW_NETWORKS lists CIDRs a deployment (or a test) must reach.

Usage::

    async with guarded_client(policy_for(settings), timeout=5) as client:
        response = await client.post(url, content=body)

``DestinationRefused`` means the policy said no (do not retry); httpx errors mean the
network did (retry if you like); ``ResponseTooLarge`` means the answer was too big.
``await policy.check(url)`` vets a URL before it is stored.
"""

from __future__ import annotations

import ipaddress

from namoid.outbound.client import ResponseTooLarge, guarded_client, tls_context
from namoid.outbound.policy import DestinationRefused, OutboundPolicy, ResolutionFailed
from namoid.settings import Settings


def policy_for(settings: Settings) -> OutboundPolicy:
    """Production: public addresses only; dev mode adds loopback; plus the configured allow-list."""
    return OutboundPolicy(
        allow_loopback=settings.is_dev,
        allowed_networks=tuple(ipaddress.ip_network(cidr) for cidr in settings.outbound_allow_networks),
    )


__all__ = [
    "DestinationRefused",
    "OutboundPolicy",
    "ResolutionFailed",
    "ResponseTooLarge",
    "guarded_client",
    "policy_for",
    "tls_context",
]
