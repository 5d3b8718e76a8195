"""Fuzzing the admin API (until Schemathesis is in the lock): whatever the route, ids, query and
JSON body, the answer is never a 5xx; an error is an RFC 9457 problem, and a success fits the
route's response model (the schema the OpenAPI document publishes)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from namoid.admin.app import admin_api
from namoid.services import Services
from namoid.storage.models import Organization
from tests.features.admin.conftest import API, AdminClient, bearer
from tests.features.conftest import MakeUser

FIELDS = [
    "name", "type", "redirect_uris", "post_logout_redirect_uris", "grant_types", "scopes", "auth_method",
    "jwks", "first_party", "id_token_alg", "refresh_token_ttl", "refresh_idle_ttl", "refresh_reuse_window",
    "offline_access_on_logout", "email", "name", "phone", "password", "reason", "admin_scopes", "status",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        ["confidential", "public", "https://rp.example/cb", "a@example.com", "RS256", "keep", "x"]
    ),
    st.text(max_size=30),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
BODIES = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), JSON_VALUES, max_size=6).map(json.dumps),
    JSON_VALUES.map(json.dumps),
    st.binary(max_size=60).map(lambda raw: raw.decode("latin-1")),
)
QUERY = st.dictionaries(
    st.sampled_from(["q", "limit", "cursor", "since", "until", "action", "actor_type", "actor_id", "reason"]),
    st.one_of(
        st.integers(min_value=-5, max_value=10**6).map(str),
        st.text(max_size=40),
        st.just("2026-01-01T00:00:00Z"),
    ),
    max_size=4,
)
IDS = st.sampled_from(["client", "user", "random-uuid", "not-a-uuid", "%2e%2e", "a" * 80])


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    response_model: type[BaseModel] | None


def _routes() -> list[Route]:
    """Every operation of the admin API with the model its success answers with."""
    found = []
    for entry in admin_api().routes:
        for route in getattr(entry, "effective_route_contexts", list)():
            if route.path.startswith(API):
                found.extend(Route(method, route.path, route.response_model) for method in route.methods)
    return sorted(found, key=lambda r: (r.path, r.method))


ROUTES = _routes()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(min_value=0, max_value=len(ROUTES) - 1), target=IDS, query=QUERY, body=BODIES)
async def test_the_admin_api_never_fails_badly(
    admin_http: httpx.AsyncClient,
    services: Services,
    token: str,
    org_admin: AdminClient,
    org: Organization,
    make_user: MakeUser,
    index: int,
    target: str,
    query: dict[str, str],
    body: str,
) -> None:
    route = ROUTES[index]
    method = route.method
    real = {
        "client": org_admin.client_id,
        "user": str((await make_user()).id),
        "random-uuid": str(uuid.uuid4()),
    }
    ident = real.get(target, target)
    path = route.path.replace("{client_id}", ident).replace("{user_id}", ident).replace("{webhook_id}", ident)
    response = await admin_http.request(
        method,
        path,
        params=query,
        content=body.encode("utf-8", "surrogatepass") if method != "GET" else None,
        headers=bearer(token) | {"content-type": "application/json"},
    )
    assert response.status_code < 500, (method, path, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == response.status_code
        return
    if route.response_model is not None:
        route.response_model.model_validate(response.json())
    elif response.status_code == 204:  # a removal answers with no body
        assert response.content == b""
    else:  # the audit export: JSON Lines
        assert response.headers["content-type"] == "application/jsonl"
        assert all(isinstance(json.loads(line), dict) for line in response.text.splitlines())
