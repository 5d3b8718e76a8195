"""The token endpoint's request handling: grant dispatch, parameters, content type, headers."""

from __future__ import annotations

import httpx
import pytest

from namoid.oauth.params import MAX_VALUE
from namoid.storage.models import Organization
from tests.features.conftest import RegisteredClient
from tests.features.token.conftest import basic, post


@pytest.mark.parametrize(
    ("grant_type", "error"),
    [
        ("password", "unsupported_grant_type"),
        ("implicit", "unsupported_grant_type"),
        ("urn:ietf:params:oauth:grant-type:device_code", "unsupported_grant_type"),
        ("junk\u00e9", "unsupported_grant_type"),
        (None, "invalid_request"),
    ],
)
async def test_unsupported_or_missing_grant_types(
    http: httpx.AsyncClient,
    org: Organization,
    service_client: RegisteredClient,
    grant_type: str | None,
    error: str,
) -> None:
    data = {"username": "u", "password": "p"}
    if grant_type is not None:
        data["grant_type"] = grant_type
    response = await post(http, org, "token", data, service_client)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"


async def test_duplicated_parameters_are_invalid_request(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient
) -> None:
    response = await http.post(
        f"/o/{org.slug}/token",
        content=b"grant_type=client_credentials&scope=api.read&scope=api.write",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            **basic(service_client.client_id, service_client.secret),
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_two_authorization_headers_are_invalid_request(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient
) -> None:
    header = basic(service_client.client_id, service_client.secret)["Authorization"]
    response = await http.post(
        f"/o/{org.slug}/token",
        content=b"grant_type=client_credentials",
        headers=[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", header),
            ("authorization", header),
        ],
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_oversized_parameters_are_invalid_request(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient
) -> None:
    data = {"grant_type": "client_credentials", "scope": "a" * (MAX_VALUE + 1)}
    response = await post(http, org, "token", data, service_client)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_oversized_bodies_are_refused_before_parsing(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient
) -> None:
    data = {"grant_type": "client_credentials", "x": "a" * 100_000}
    response = await post(http, org, "token", data, service_client)
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (b"grant_type=client_credentials", "text/plain"),
        (b"grant_type=client_credentials", None),
        (
            b"--x\r\nContent-Disposition: form-data; name=grant_type\r\n\r\nclient_credentials\r\n--x--",
            "multipart/form-data; boundary=x",
        ),
    ],
)
async def test_only_form_bodies_are_accepted(
    http: httpx.AsyncClient,
    org: Organization,
    service_client: RegisteredClient,
    content: bytes,
    content_type: str | None,
) -> None:
    headers = basic(service_client.client_id, service_client.secret)
    if content_type is not None:
        headers["content-type"] = content_type
    response = await http.post(f"/o/{org.slug}/token", content=content, headers=headers)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert response.headers["cache-control"] == "no-store"


async def test_unknown_parameters_are_ignored(
    http: httpx.AsyncClient, org: Organization, service_client: RegisteredClient
) -> None:
    data = {
        "grant_type": "client_credentials",
        "code": "x",
        "redirect_uri": "https://evil.example",
        "foo": "bar",
    }
    assert (await post(http, org, "token", data, service_client)).status_code == 200


async def test_get_is_not_allowed_and_not_a_500(http: httpx.AsyncClient, org: Organization) -> None:
    response = await http.get(f"/o/{org.slug}/token?grant_type=client_credentials")
    assert response.status_code == 405


async def test_unknown_org_is_404(http: httpx.AsyncClient) -> None:
    response = await http.post("/o/no-such-org/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 404
