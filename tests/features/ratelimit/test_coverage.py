"""Every auth endpoint is covered by a named policy: a burst against each one ends in 429."""

from __future__ import annotations

import httpx
from fastapi.routing import APIRoute

from namoid.oauth import endpoints
from namoid.ratelimit import policies
from namoid.services import Services
from namoid.web import interaction
from tests.features.authorize.conftest import Flow, form_inputs
from tests.features.ratelimit.conftest import UseLimits

#: POST endpoints where an attacker can guess a credential or spend ours: each needs a policy.
AUTH_ENDPOINTS = {"/login", "/token", "/introspect"}
#: The other POST endpoints under /o/{org}, and why they are not (yet) limited here.
NOT_LIMITED = {
    "/authorize": "no credential: validates the request, then sends the browser to /login",
    "/consent": "needs a signed-in session and a CSRF token",
    "/revoke": "client-authenticated; to be limited with its own policy (issue 6, remaining)",
    "/userinfo": "bearer token; to be limited with its own policy (issue 6, remaining)",
}
#: Policies whose endpoints arrive later (email/SMS OTP, reset, registration): they must exist now.
LATER_POLICIES = {
    "otp.send.destination",
    "otp.send.ip",
    "otp.send.org_hourly",
    "otp.verify.challenge",
    "password_reset.ip",
    "password_reset.destination",
    "registration.ip",
    "registration.destination",
}


def _post_routes() -> set[str]:
    routers = (endpoints.router, interaction.router)
    return {
        route.path
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    }


async def _burst(flow: Flow, http: httpx.AsyncClient, path: str) -> list[int]:
    url = f"/o/{flow.org.slug}{path}"
    if url.endswith("/login"):
        page = await flow.follow(await flow.authorize())
        data = form_inputs(page.text) | {"email": "x@example.com", "password": "wrong"}
    else:
        data = {"grant_type": "client_credentials", "client_id": "some-client", "token": "t"}
    return [(await http.post(url, data=data)).status_code for _ in range(2)]


async def test_every_auth_endpoint_has_a_named_policy(
    flow: Flow, http: httpx.AsyncClient, services: Services, use_limits: UseLimits
) -> None:
    assert _post_routes() == AUTH_ENDPOINTS | set(NOT_LIMITED)  # a new endpoint must be classified
    await use_limits(dict.fromkeys(policies.DEFAULTS, "1/minute"))
    for path in sorted(AUTH_ENDPOINTS):
        statuses = await _burst(flow, http, path)
        assert statuses[1] == 429, (path, statuses)


def test_later_endpoints_have_their_policies_defined() -> None:
    assert set(policies.DEFAULTS) >= LATER_POLICIES
