"""The headers of an HTTP 429 answer (RFC 6585 §4): ``Retry-After`` (RFC 9110 §10.2.3) and the
IETF ``RateLimit-Policy`` / ``RateLimit`` headers (draft-ietf-httpapi-ratelimit-headers-09 §2, §3).

The bodies belong to the layers that answer: RFC 6749 §5.2 JSON at the OAuth endpoints
(namoid.oauth.endpoints, ``temporarily_unavailable``), an HTML page on the browser pages
(namoid.web.limits).
"""

from __future__ import annotations

from namoid.ratelimit.limiter import Decision

TOO_MANY_REQUESTS = 429


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """A refusal's ``Retry-After``, the draft's policy (quota ``q``, window ``w``), state (``r``, ``t``)."""
    name = decision.policy
    return {
        "Retry-After": str(decision.reset_after),
        "RateLimit-Policy": f'"{name}";q={decision.limit};w={decision.window}',
        "RateLimit": f'"{name}";r=0;t={decision.reset_after}',  # refused: no quota left
        "Cache-Control": "no-store",
    }
