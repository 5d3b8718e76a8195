"""Fuzzing POST /token: every answer is JSON, a token or an RFC 6749 §5.2 error, never a 500."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote_plus

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from namoid.storage.models import Organization
from tests.features.conftest import RegisteredClient
from tests.features.token.conftest import basic

ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}
NAMES = st.sampled_from(
    [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "username",
        "password",
        'x"',
        "a\\b",
    ]
)
VALUES = st.one_of(
    st.sampled_from(
        [
            "authorization_code",
            "client_credentials",
            "refresh_token",
            "password",
            "implicit",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "eyJhbGciOiJub25lIn0.e30.",
            "openid",
        ]
    ),
    st.text(max_size=60),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ]
)


def _encode(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs).encode()


BODIES = st.one_of(
    st.lists(st.tuples(NAMES, VALUES), max_size=8).map(_encode),
    st.binary(max_size=200),
)


AUTH = st.one_of(
    st.sampled_from(["none", "good", "wrong", "malformed", "bearer"]),
    st.binary(max_size=80).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
    st.binary(max_size=40).map(lambda raw: "Basic %" + raw.hex()),
)


def _auth(kind: str, client: RegisteredClient) -> dict[str, str]:
    fixed = {
        "none": {},
        "good": basic(client.client_id, client.secret),
        "wrong": basic(client.client_id, "wrong"),
        "malformed": {"Authorization": "Basic %%%"},
        "bearer": {"Authorization": "Bearer x"},
    }
    return dict(fixed.get(kind, {"Authorization": kind}))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, content_type=CONTENT_TYPES, auth=AUTH)
@example(body=b"x%22=1&x%22=2", content_type="application/x-www-form-urlencoded", auth="good")
@example(body=b"a%5Cb=1&a%5Cb=2", content_type="application/x-www-form-urlencoded", auth="none")
async def test_token_endpoint_never_fails_badly(
    http: httpx.AsyncClient,
    org: Organization,
    service_client: RegisteredClient,
    body: bytes,
    content_type: str,
    auth: str,
) -> None:
    headers = _auth(auth, service_client)
    if content_type:
        headers["content-type"] = content_type
    response = await http.post(f"/o/{org.slug}/token", content=body, headers=headers)
    assert response.status_code < 500, response.text
    payload = response.json()
    assert "access_token" in payload or payload.get("error") in ERRORS, payload
    assert response.headers["cache-control"] == "no-store"


#: Parameter names outside the error_description character set (RFC 6749 §5.2), repeated,
#: too long, or with control characters in the value.
QUOTED_NAMES = [
    b"x%22=1&x%22=2",
    b"a%5Cb=1&a%5Cb=2",
    b"%22%5C%22=1&%22%5C%22=1",
    b"x%22=" + b"a" * 3000,
    b"x%5C=a%0Ab",
]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("endpoint", ["token", "revoke", "introspect", "userinfo"])
@pytest.mark.parametrize("body", QUOTED_NAMES)
async def test_quotes_and_backslashes_in_parameter_names_are_invalid_request(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient, endpoint: str, body: bytes
) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if endpoint != "userinfo":
        headers |= basic(service_client.client_id, service_client.secret)
    response = await http.post(f"/o/{org.slug}/{endpoint}", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    description = response.json()["error_description"]
    assert re.fullmatch(r"[\x20\x21\x23-\x5b\x5d-\x7e]*", description), description
    if endpoint == "userinfo":  # RFC 6750 §3: the error in a quoted-string of the challenge
        challenge = response.headers["www-authenticate"]
        assert challenge.endswith(f'error="invalid_request", error_description="{description}"'), challenge
