"""Every auth endpoint is covered by a named policy: a burst against each one ends in 429."""

from __future__ import annotations

from pathlib import Path

import httpx

import namoid
from namoid.ratelimit import policies
from namoid.services import Services
from tests.features.authorize.conftest import Flow, form_inputs
from tests.features.conftest import served_routes
from tests.features.ratelimit.conftest import UseLimits

ORG_PREFIX = "/o/{org}"
#: Endpoints where an attacker can guess a credential or spend ours, and the policy that a
#: burst from one IP meets first there.
AUTH_ENDPOINTS = {
    "/login": "login.ip",
    "/token": "token.ip",
    "/revoke": "revoke.ip",
    "/introspect": "introspect.client",
    "/userinfo": "userinfo.ip",
}
#: The other endpoints under /o/{org}, and why no policy of their own is needed.
NOT_LIMITED = {
    "/.well-known/openid-configuration": "public metadata: no credential, nothing spent",
    "/jwks.json": "public keys: no credential, nothing spent",
    "/authorize": "no credential: validates the request, then sends the browser to /login",
    "/consent": "needs a signed-in session and a CSRF token",
    "/logout": "ends only a signed-in session, with a CSRF token; the id_token_hint is a signature check",
}
#: Policies whose endpoints arrive later (OTP verification, reset, registration): they must exist now.
LATER_POLICIES = {
    "otp.verify.challenge",
    "password_reset.ip",
    "password_reset.destination",
    "registration.ip",
    "registration.destination",
}


def _org_routes(services: Services) -> set[str]:
    """Every path the public app serves under /o/{org}."""
    paths = {path for _, path in served_routes(services)}
    return {path.removeprefix(ORG_PREFIX) for path in paths if path.startswith(ORG_PREFIX + "/")}


async def _burst(flow: Flow, http: httpx.AsyncClient, path: str) -> list[httpx.Response]:
    url = f"/o/{flow.org.slug}{path}"
    if url.endswith("/login"):
        page = await flow.follow(await flow.authorize())
        data = form_inputs(page.text) | {"email": "x@example.com", "password": "wrong"}
    else:
        data = {"grant_type": "client_credentials", "client_id": "some-client", "token": "t"}
    return [await http.post(url, data=data) for _ in range(2)]


async def test_every_auth_endpoint_has_a_named_policy(
    flow: Flow, http: httpx.AsyncClient, services: Services, use_limits: UseLimits
) -> None:
    assert _org_routes(services) == set(AUTH_ENDPOINTS) | set(
        NOT_LIMITED
    )  # a new endpoint must be classified
    await use_limits(dict.fromkeys(policies.DEFAULTS, "1/minute"))
    for path, policy in sorted(AUTH_ENDPOINTS.items()):
        first, second = await _burst(flow, http, path)
        assert first.status_code != 429 and second.status_code == 429, (path, first, second)
        assert second.headers["ratelimit-policy"].startswith(f'"{policy}";'), path


def test_every_policy_is_applied_or_awaits_its_endpoint() -> None:
    """A policy defined but named nowhere in the code would limit nothing."""
    package = Path(namoid.__file__).parent
    code = "".join(path.read_text() for path in package.rglob("*.py") if path.name != "policies.py")
    applied = {name for name in policies.DEFAULTS if f'"{name}"' in code}
    assert applied.isdisjoint(LATER_POLICIES)
    assert applied | LATER_POLICIES == set(policies.DEFAULTS)
