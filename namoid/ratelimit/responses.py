"""HTTP 429 answers (RFC 6585 §4) with ``Retry-After`` (RFC 9110 §10.2.3) and the IETF
``RateLimit-Policy`` / ``RateLimit`` headers (draft-ietf-httpapi-ratelimit-headers-09 §2, §3).

At the OAuth JSON endpoints the body is RFC 6749 §5.2-shaped. §5.2 registers no code for
"too many requests"; ``temporarily_unavailable`` (RFC 6749 §4.1.2.1: the server "is
currently unable to handle the request due to a temporary overloading") says what a client
should do — retry later — and every OAuth library understands it, whereas ``slow_down``
belongs to the device flow's polling (RFC 8628 §3.5) only.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response

from namoid.oauth.errors import TemporarilyUnavailable
from namoid.ratelimit.limiter import Decision
from namoid.web.templates import error_page

TOO_MANY_REQUESTS = 429


def headers(decision: Decision) -> dict[str, str]:
    """A refusal's ``Retry-After``, the draft's policy (quota ``q``, window ``w``), state (``r``, ``t``)."""
    name = decision.policy
    return {
        "Retry-After": str(decision.reset_after),
        "RateLimit-Policy": f'"{name}";q={decision.limit};w={decision.window}',
        "RateLimit": f'"{name}";r=0;t={decision.reset_after}',  # refused: no quota left
        "Cache-Control": "no-store",
    }


def oauth_refusal(decision: Decision) -> Response:
    """The JSON endpoints: ``{"error": "temporarily_unavailable", ...}`` with status 429."""
    body = TemporarilyUnavailable("rate limit exceeded").as_dict()
    return JSONResponse(
        body, status_code=TOO_MANY_REQUESTS, headers={**headers(decision), "Pragma": "no-cache"}
    )


def page_refusal(request: Request, decision: Decision) -> Response:
    """The HTML pages: a friendly explanation of how long to wait."""
    minutes = max(1, -(-decision.reset_after // 60))
    wait = "a minute" if minutes == 1 else f"{minutes} minutes"
    response = error_page(
        request,
        TOO_MANY_REQUESTS,
        "Too many attempts",
        f"For your security, sign-in is paused for a while. Wait {wait} and try again.",
    )
    response.headers.update(headers(decision))
    return response
