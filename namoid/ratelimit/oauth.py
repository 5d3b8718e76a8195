"""Limits at the OAuth JSON endpoints, checked before any client-authentication or token work.

The key is the client the request *claims* to be (RFC 6749 §2.3.1 Basic or body, RFC 7523
assertion ``sub``) and the caller's IP: a guessing attacker spends the claimed client's
budget without costing a secret hash or a signature check. UserInfo has no client: its
bearer token (RFC 6750 §2) is what would be guessed, so only the caller's IP is counted.
"""

from __future__ import annotations

from collections.abc import Mapping

from namoid.oauth import client_auth
from namoid.oauth.errors import OAuthError
from namoid.ratelimit.limiter import Decision, Limiter
from namoid.ratelimit.login import UNKNOWN_IP

#: Per endpoint: the policy keyed by IP and the policy keyed by the claimed client (if any).
ENDPOINTS: dict[str, tuple[str | None, str | None]] = {
    "token": ("token.ip", "token.client"),
    "revoke": ("revoke.ip", "revoke.client"),
    "introspect": (None, "introspect.client"),
    "userinfo": ("userinfo.ip", None),
}


def claimed_client(form: Mapping[str, str], authorization: str | None) -> str | None:
    """The client_id the request names; None if its credentials are malformed (refused later)."""
    try:
        return client_auth.credentials(form, authorization).client_id
    except OAuthError:
        return None


async def admit(
    limiter: Limiter,
    endpoint: str,
    org: str,
    ip: str | None,
    form: Mapping[str, str],
    authorization: str | None,
) -> Decision | None:
    """Count the request; the refusing decision if the IP's or the claimed client's budget is spent."""
    by_ip, by_client = ENDPOINTS[endpoint]
    if by_ip is not None:
        decision = await limiter.hit(by_ip, ip or UNKNOWN_IP, org=org)
        if not decision.allowed:
            return decision
    if by_client is None:
        return None
    client_id = claimed_client(form, authorization)
    if client_id is None:
        return None
    decision = await limiter.hit(by_client, client_id, org=org)
    return None if decision.allowed else decision
