"""The admin API's clients, users and audit log over the services the CLI uses (issue 16)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization
from tests.features.admin.conftest import API, AdminClient, admin_client, admin_token, bearer
from tests.features.conftest import PASSWORD, MakeClient, MakeUser
from tests.features.token.conftest import basic


async def _entries(services: Services, org: Organization, request_id: str) -> list[AuditEntry]:
    async with services.db.tenant(org.id) as session:
        query = select(AuditEntry).where(AuditEntry.org_id == org.id, AuditEntry.request_id == request_id)
        return list((await session.scalars(query)).all())


async def test_clients_from_creation_to_disabling(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    token: str,
    org_admin: AdminClient,
    org: Organization,
) -> None:
    auth = bearer(token)
    body = {
        "name": "Billing",
        "type": "confidential",
        "redirect_uris": ["https://billing.example/cb"],
        "grant_types": ["authorization_code", "client_credentials"],
        "scopes": ["openid", "profile"],
    }
    created = await admin_http.post(f"{API}/clients", headers=auth, json=body)
    assert created.status_code == 201, created.text
    client = created.json()
    client_id, secret = client["client_id"], client["client_secret"]
    assert client["status"] == "active" and client["admin_scopes"] == [] and secret
    entries = await _entries(services, org, created.headers["x-request-id"])
    assert [(e.action, e.actor_type, e.actor_id) for e in entries] == [
        ("client.created", "admin", f"client:{org_admin.client_id}")
    ]
    assert entries[0].ip == "198.51.100.9"

    got = await admin_http.get(f"{API}/clients/{client_id}", headers=auth)
    assert got.json() == {k: v for k, v in client.items() if k != "client_secret"}
    listed = await admin_http.get(f"{API}/clients", headers=auth)
    assert {c["client_id"] for c in listed.json()["items"]} == {client_id, org_admin.client_id}

    patched = await admin_http.patch(
        f"{API}/clients/{client_id}", headers=auth, json={"refresh_token_ttl": 7200}
    )
    assert patched.status_code == 200 and patched.json()["refresh_token_ttl"] == 7200

    rotated = await admin_http.post(f"{API}/clients/{client_id}/secret", headers=auth)
    new_secret = rotated.json()["client_secret"]
    assert rotated.status_code == 200 and new_secret != secret
    old = await http.post(f"/o/{org.slug}/token", data={"grant_type": "client_credentials"},
                          headers=basic(client_id, secret))  # fmt: skip
    new = await http.post(f"/o/{org.slug}/token", data={"grant_type": "client_credentials"},
                          headers=basic(client_id, new_secret))  # fmt: skip
    assert old.status_code == 401 and new.status_code == 200

    disabled = await admin_http.post(f"{API}/clients/{client_id}/disable", headers=auth)
    assert disabled.json()["status"] == "disabled"
    again = await admin_http.post(f"{API}/clients/{client_id}/disable", headers=auth)
    assert again.status_code == 409 and "already disabled" in again.json()["detail"]
    enabled = await admin_http.post(f"{API}/clients/{client_id}/enable", headers=auth)
    assert enabled.json()["status"] == "active"
    missing = await admin_http.get(f"{API}/clients/no-such-client", headers=auth)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_users_from_creation_to_deletion(
    admin_http: httpx.AsyncClient, services: Services, token: str, org: Organization, make_user: MakeUser
) -> None:
    auth = bearer(token)
    created = await admin_http.post(
        f"{API}/users", headers=auth, json={"email": "Asha@Example.COM", "name": "Asha", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "asha@example.com" and user["status"] == "active"
    duplicate = await admin_http.post(f"{API}/users", headers=auth, json={"email": "asha@example.com"})
    assert duplicate.status_code == 409
    bad = await admin_http.post(f"{API}/users", headers=auth, json={"email": "not an address"})
    assert bad.status_code == 422 and "invalid email" in bad.json()["detail"]

    await make_user(email="bharat@example.com", name="Bharat")
    found = await admin_http.get(f"{API}/users", headers=auth, params={"q": "ASHA"})
    assert [u["email"] for u in found.json()["items"]] == ["asha@example.com"]
    by_name = await admin_http.get(f"{API}/users", headers=auth, params={"q": "bhar"})
    assert [u["email"] for u in by_name.json()["items"]] == ["bharat@example.com"]
    wildcard = await admin_http.get(f"{API}/users", headers=auth, params={"q": "%"})
    assert wildcard.json()["items"] == []

    user_id = user["id"]
    assert (await admin_http.get(f"{API}/users/{user_id}", headers=auth)).json() == user
    disabled = await admin_http.post(f"{API}/users/{user_id}/disable", headers=auth, json={"reason": "left"})
    assert disabled.json()["status"] == "disabled"
    entries = await _entries(services, org, disabled.headers["x-request-id"])
    assert "user.disabled" in {e.action for e in entries}
    twice = await admin_http.post(f"{API}/users/{user_id}/disable", headers=auth)
    assert twice.status_code == 409 and "already disabled" in twice.json()["detail"]
    enabled = await admin_http.post(f"{API}/users/{user_id}/enable", headers=auth)
    assert enabled.json()["status"] == "active"
    not_disabled = await admin_http.post(f"{API}/users/{user_id}/enable", headers=auth)
    assert not_disabled.status_code == 409, not_disabled.text
    revoked = await admin_http.post(f"{API}/users/{user_id}/sessions/revoke", headers=auth)
    assert revoked.status_code == 200
    assert [e.action for e in await _entries(services, org, revoked.headers["x-request-id"])] == [
        "user.sessions_revoked"
    ]
    deleted = await admin_http.delete(f"{API}/users/{user_id}", headers=auth, params={"reason": "asked"})
    assert deleted.json()["status"] == "deleted"
    assert (await admin_http.get(f"{API}/users/{user_id}", headers=auth)).status_code == 404
    assert (await admin_http.get(f"{API}/users/{uuid.uuid4()}", headers=auth)).status_code == 404


async def test_user_search_pages_with_a_cursor_bound_to_org_and_query(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    token: str,
    make_user: MakeUser,
    other_org: Organization,
    make_client: MakeClient,
) -> None:
    auth = bearer(token)
    for n in range(5):
        await make_user(email=f"page-{n}@example.com")
    first = await admin_http.get(f"{API}/users", headers=auth, params={"q": "page-", "limit": 2})
    cursor = first.json()["next_cursor"]
    second = await admin_http.get(
        f"{API}/users", headers=auth, params={"q": "page-", "limit": 2, "cursor": cursor}
    )
    emails = [u["email"] for u in first.json()["items"] + second.json()["items"]]
    assert emails == [f"page-{n}@example.com" for n in range(4)]
    other_query = await admin_http.get(f"{API}/users", headers=auth, params={"q": "x", "cursor": cursor})
    assert other_query.status_code == 400 and "another listing" in other_query.json()["detail"]
    garbage = await admin_http.get(f"{API}/users", headers=auth, params={"cursor": "!!!"})
    assert garbage.status_code == 400
    token_b = await admin_token(http, services, await admin_client(services, make_client, other_org))
    other_org_cursor = await admin_http.get(
        f"{API}/users", headers=bearer(token_b), params={"q": "page-", "limit": 2, "cursor": cursor}
    )
    assert other_org_cursor.status_code == 400 and "another listing" in other_org_cursor.json()["detail"]


async def test_the_audit_log_filters_and_pages(
    admin_http: httpx.AsyncClient, token: str, org: Organization, make_user: MakeUser
) -> None:
    auth = bearer(token)
    for _ in range(3):
        await make_user()
    first = await admin_http.get(f"{API}/audit", headers=auth, params={"action": "user.created", "limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 2 and {e["action"] for e in page["items"]} == {"user.created"}
    assert all(e["org_id"] == str(org.id) for e in page["items"])
    rest = await admin_http.get(
        f"{API}/audit",
        headers=auth,
        params={"action": "user.created", "limit": 2, "cursor": page["next_cursor"]},
    )
    seqs = [e["seq"] for e in page["items"] + rest.json()["items"]]
    assert len(seqs) == 3 and seqs == sorted(seqs)
    refused = await admin_http.get(
        f"{API}/audit", headers=auth, params={"action": "client.created", "cursor": page["next_cursor"]}
    )
    assert refused.status_code == 400
    naive = await admin_http.get(f"{API}/audit", headers=auth, params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    since = await admin_http.get(f"{API}/audit", headers=auth, params={"since": "2999-01-01T00:00:00Z"})
    assert since.status_code == 200 and since.json() == {"items": [], "next_cursor": None}


async def test_an_oversized_body_is_a_413_problem(admin_http: httpx.AsyncClient, token: str) -> None:
    body = b'{"name": "' + b"x" * 70_000 + b'", "type": "public"}'
    response = await admin_http.post(
        f"{API}/clients", content=body, headers=bearer(token) | {"content-type": "application/json"}
    )
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413


@pytest.mark.parametrize(
    ("method", "path", "content", "status"),
    [
        ("POST", "/clients", b"{not json", 400),
        ("POST", "/clients", b'{"name": "x", "type": "public", "colour": "red"}', 422),
        ("POST", "/clients", b'{"name": 7, "type": "public"}', 422),
        ("POST", "/clients", b'{"name": "x", "type": "public", "first_party": "yes"}', 422),
        ("POST", "/clients", b'{"name": "x", "type": "hybrid"}', 422),
        ("POST", "/clients", b"[]", 422),
        (
            "POST",
            "/clients",
            b'{"name": "x", "type": "public", "redirect_uris": ["http://evil.example/cb"]}',
            422,
        ),
        ("PATCH", "/clients/{client}", b"{}", 422),
        ("PATCH", "/clients/{client}", b'{"refresh_token_ttl": "7200"}', 422),
        ("PATCH", "/clients/{client}", b'{"refresh_token_ttl": 5}', 422),
        # pragma: allowlist nextline secret
        ("POST", "/users", b'{"email": "a@example.com", "password": "short"}', 422),
        ("POST", "/users", b'{"email": "a@example.com", "role": "admin"}', 422),
        ("GET", "/users?limit=100000", b"", 422),
        ("GET", "/users?limit=0", b"", 422),
        ("GET", "/audit?limit=501", b"", 422),
        ("GET", "/users/not-a-uuid", b"", 422),
        ("PUT", "/clients", b"{}", 405),
        ("GET", "/nothing-here", b"", 404),
    ],
)
async def test_bad_input_is_a_precise_problem_and_changes_nothing(
    admin_http: httpx.AsyncClient,
    token: str,
    org_admin: AdminClient,
    method: str,
    path: str,
    content: bytes,
    status: int,
) -> None:
    url = API + path.replace("{client}", org_admin.client_id)
    before = await admin_http.get(f"{API}/audit", headers=bearer(token), params={"limit": 500})
    response = await admin_http.request(
        method, url, content=content, headers=bearer(token) | {"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert "short" not in response.text  # a refused value is never echoed (it could be a password)
    after = await admin_http.get(f"{API}/audit", headers=bearer(token), params={"limit": 500})
    assert after.json()["items"] == before.json()["items"]
