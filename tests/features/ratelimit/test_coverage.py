"""Every route under /o/{org} is classified, and a burst against each limited one ends in 429."""

from __future__ import annotations

from pathlib import Path

import httpx

import namoid
from namoid.ratelimit import policies
from namoid.services import Services
from namoid.storage.models import Organization
from tests.features.conftest import served_routes
from tests.features.ratelimit.conftest import ClientAt, UseLimits

ORG_PREFIX = "/o/{org}"
#: Every route under /o/{org} where a request can guess a credential, spend ours or store a
#: row, and the policy that a burst from one IP meets first there.
LIMITED_ROUTES = {
    ("GET", "/authorize"): "authorize.ip",
    ("POST", "/authorize"): "authorize.ip",
    ("GET", "/login"): "interaction.ip",
    ("POST", "/login"): "login.ip",
    ("GET", "/consent"): "interaction.ip",
    ("POST", "/consent"): "interaction.refused_ip",  # needs a session and a CSRF token: refusals count
    ("GET", "/code"): "interaction.ip",
    # The code forms need a session and a CSRF token first; then otp.send.*, registration.*,
    # password_reset.* and otp.verify.challenge (tests/features/otpflows/test_floods.py).
    ("POST", "/code"): "interaction.refused_ip",
    ("POST", "/code/verify"): "interaction.refused_ip",
    ("POST", "/code/resend"): "interaction.refused_ip",
    ("GET", "/logout"): "logout.ip",
    ("POST", "/logout"): "logout.ip",
    ("POST", "/token"): "token.ip",
    ("POST", "/revoke"): "revoke.ip",
    ("POST", "/introspect"): "introspect.ip",
    ("GET", "/userinfo"): "userinfo.ip",
    ("POST", "/userinfo"): "userinfo.ip",
    ("GET", "/account/kyc"): "interaction.ip",
    ("GET", "/privacy"): "interaction.ip",
    ("POST", "/account/kyc"): "interaction.ip",
    ("POST", "/account/kyc/withdraw"): "interaction.ip",
    # The account console (namoid.web.account): every page counts against interaction.ip first.
    ("GET", "/account"): "interaction.ip",
    ("GET", "/account/signin"): "interaction.ip",
    # The one-time sign-in link (namoid.web.sign_in_link).
    ("GET", "/sign-in-link"): "interaction.ip",
    ("POST", "/sign-in-link"): "interaction.ip",
    ("GET", "/account/callback"): "interaction.ip",
    ("GET", "/account/sessions"): "interaction.ip",
    ("POST", "/account/sessions/end"): "interaction.ip",
    ("POST", "/account/sessions/end-all"): "interaction.ip",
    ("GET", "/account/password"): "interaction.ip",
    ("GET", "/account/profile"): "interaction.ip",
    ("POST", "/account/profile/name"): "interaction.ip",
    # A code is sent only after otp.send.* (namoid.ratelimit.otp.admit_send) admits it.
    ("POST", "/account/profile/email"): "interaction.ip",
    ("POST", "/account/profile/phone"): "interaction.ip",
    ("POST", "/account/profile/verify"): "interaction.ip",
    ("GET", "/account/providers"): "interaction.ip",
    ("POST", "/account/providers/{name}/connect"): "interaction.ip",
    ("POST", "/account/providers/{name}/disconnect"): "interaction.ip",
    ("POST", "/account/password"): "interaction.ip",
    ("GET", "/account/applications"): "interaction.ip",
    ("POST", "/account/applications/withdraw"): "interaction.ip",
    ("GET", "/account/consents"): "interaction.ip",
    ("GET", "/account/consents/{consent_id}/receipt"): "interaction.ip",
    ("GET", "/account/access"): "interaction.ip",
    ("GET", "/account/data"): "interaction.ip",
    ("POST", "/account/data"): "interaction.ip",
    ("GET", "/account/data/download/{token}"): "interaction.ip",
    ("GET", "/account/data/summary"): "interaction.ip",
    ("GET", "/account/grievances"): "interaction.ip",
    ("POST", "/account/grievances"): "interaction.ip",  # then grievance.raise per user
    ("GET", "/account/delete"): "interaction.ip",
    ("POST", "/account/delete"): "interaction.ip",
    ("GET", "/providers/{name}/start"): "interaction.ip",
    ("GET", "/providers/{name}/callback"): "interaction.ip",
    ("POST", "/providers/{name}/callback"): "interaction.ip",
    ("DELETE", "/consents/{consent_id}"): "consents.ip",
    ("GET", "/consents/{consent_id}/receipt"): "consents.ip",
    ("POST", "/kyc/offline-ekyc"): "kyc.api.ip",  # then kyc.api.user once the token is checked
    ("GET", "/notice"): "interaction.ip",
}
#: The other routes under /o/{org}, and why no policy of their own is needed.
NOT_LIMITED = {
    ("GET", "/.well-known/openid-configuration"): "public metadata: no credential, nothing stored",
    ("GET", "/jwks.json"): "public keys: no credential, nothing stored",
}
#: Policies whose endpoints arrive later: they must exist now.
LATER_POLICIES: set[str] = set()
FORM = {"grant_type": "client_credentials", "client_id": "some-client", "token": "t", "req": "x"}


def _org_routes(services: Services) -> set[tuple[str, str]]:
    """Every (method, path) the public app serves under /o/{org}."""
    return {
        (method, path.removeprefix(ORG_PREFIX))
        for method, path in served_routes(services)
        if path.startswith(ORG_PREFIX + "/")
    }


async def _burst(http: httpx.AsyncClient, org: Organization, method: str, path: str) -> list[httpx.Response]:
    url = f"/o/{org.slug}{path}"
    if method == "GET":
        return [await http.get(url, params={"req": "x"}) for _ in range(2)]
    if method == "DELETE":
        return [await http.delete(url) for _ in range(2)]
    return [await http.post(url, data=FORM) for _ in range(2)]


async def test_every_route_is_classified_and_a_burst_ends_in_its_policy(
    org: Organization, services: Services, use_limits: UseLimits, client_at: ClientAt
) -> None:
    assert _org_routes(services) == set(LIMITED_ROUTES) | set(NOT_LIMITED)  # a new route must be classified
    await use_limits(dict.fromkeys(policies.DEFAULTS, "1/minute"))
    for number, ((method, path), policy) in enumerate(sorted(LIMITED_ROUTES.items())):
        async with client_at(f"198.51.100.{number + 1}") as http:  # each route from its own address
            first, second = await _burst(http, org, method, path)
        assert first.status_code != 429 and second.status_code == 429, (method, path, first, second)
        assert second.headers["ratelimit-policy"].startswith(f'"{policy}";'), (method, path)


def test_every_policy_is_applied_or_awaits_its_endpoint() -> None:
    """A policy defined but named nowhere in the code would limit nothing."""
    package = Path(namoid.__file__).parent
    code = "".join(path.read_text() for path in package.rglob("*.py") if path.name != "policies.py")
    applied = {name for name in policies.DEFAULTS if f'"{name}"' in code}
    assert applied.isdisjoint(LATER_POLICIES)
    assert applied | LATER_POLICIES == set(policies.DEFAULTS)
