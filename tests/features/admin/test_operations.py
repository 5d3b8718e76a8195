"""The admin API's signing keys, webhooks, security events and audit export, over the services
``namoid keys rotate-signing``, ``namoid webhooks`` and ``namoid audit export`` use (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from namoid.audit import sealing
from namoid.services import Services
from namoid.storage.models import Organization
from tests.features.admin.conftest import API, HOOK_URL, admin_client, admin_token, bearer
from tests.features.conftest import MakeClient, MakeUser

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


async def test_signing_keys_list_public_parts_and_rotate(
    http: httpx.AsyncClient, admin_http: httpx.AsyncClient, services: Services, token: str, org: Organization
) -> None:
    auth = bearer(token)
    listed = await admin_http.get(f"{API}/keys", headers=auth)
    assert listed.status_code == 200, listed.text
    [first] = listed.json()["items"]
    assert first["status"] == "active" and first["alg"] == "RS256" and first["published"]
    assert first["public_jwk"]["kid"] == first["kid"] and not PRIVATE_JWK_MEMBERS & set(first["public_jwk"])

    rotated = await admin_http.post(f"{API}/keys/rotate", headers=auth)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["retired"] == [first["kid"]] and rotated.json()["alg"] == "RS256"
    after = {k["kid"]: k for k in (await admin_http.get(f"{API}/keys", headers=auth)).json()["items"]}
    assert after[first["kid"]]["status"] == "retired" and after[first["kid"]]["published"]
    assert after[rotated.json()["kid"]]["status"] == "active"
    jwks = (await http.get(f"/o/{org.slug}/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} == set(after)
    for bad in (b'{"alg": "HS256"}', b'{"alg": "RS256", "size": 4096}', b"{"):
        refused = await admin_http.post(
            f"{API}/keys/rotate", headers=auth | {"content-type": "application/json"}, content=bad
        )
        assert refused.status_code in (400, 422), refused.text
    assert len((await admin_http.get(f"{API}/keys", headers=auth)).json()["items"]) == 2


async def test_scopes_guard_keys_webhooks_and_events(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    make_client: MakeClient,
    org: Organization,
) -> None:
    reader = await admin_client(services, make_client, org, ["admin:keys:read", "admin:webhooks:read"])
    auth = bearer(await admin_token(http, services, reader))
    assert (await admin_http.get(f"{API}/keys", headers=auth)).status_code == 200
    assert (await admin_http.get(f"{API}/webhooks", headers=auth)).status_code == 200
    for method, path, body in (
        ("POST", "/keys/rotate", None),
        ("POST", "/webhooks", {"url": HOOK_URL}),
        ("GET", "/security-events", None),
        ("GET", "/audit/export", None),
    ):
        refused = await admin_http.request(method, f"{API}{path}", headers=auth, json=body)
        assert refused.status_code == 403 and "insufficient_scope" in refused.headers["www-authenticate"]


async def test_webhooks_add_list_remove_with_the_outbound_rules(
    admin_http: httpx.AsyncClient, token: str
) -> None:
    auth = bearer(token)
    added = await admin_http.post(f"{API}/webhooks", headers=auth, json={"url": HOOK_URL})
    assert added.status_code == 201, added.text
    hook = added.json()
    assert hook["url"] == HOOK_URL
    assert (await admin_http.get(f"{API}/webhooks", headers=auth)).json()["items"] == [hook]
    for url in (
        "http://127.0.0.1:8443/plain",  # https only outside dev mode
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://10.0.0.5/",  # a private network not allowed
        "https://user:pw@127.0.0.1:8443/",  # pragma: allowlist secret
        "https://127.0.0.1:8443/#frag",
    ):
        refused = await admin_http.post(f"{API}/webhooks", headers=auth, json={"url": url})
        assert refused.status_code == 422 and refused.json()["detail"].startswith("the webhook URL"), url
    assert (await admin_http.post(f"{API}/webhooks", headers=auth, json={"url": 5})).status_code == 422
    removed = await admin_http.delete(f"{API}/webhooks/{hook['id']}", headers=auth)
    assert removed.status_code == 204
    assert (await admin_http.delete(f"{API}/webhooks/{hook['id']}", headers=auth)).status_code == 404
    assert (await admin_http.get(f"{API}/webhooks", headers=auth)).json()["items"] == []


async def test_security_events_filter_and_page(admin_http: httpx.AsyncClient, token: str) -> None:
    auth = bearer(token)
    for _ in range(3):
        assert (await admin_http.post(f"{API}/keys/rotate", headers=auth)).status_code == 200
    first = await admin_http.get(
        f"{API}/security-events", headers=auth, params={"name": "signing_key.rotated", "limit": 2}
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["name"] for e in page["items"]] == ["signing_key.rotated"] * 2 and page["next_cursor"]
    rest = await admin_http.get(
        f"{API}/security-events",
        headers=auth,
        params={"name": "signing_key.rotated", "limit": 2, "cursor": page["next_cursor"]},
    )
    items = page["items"] + rest.json()["items"]
    assert len({e["id"] for e in items}) == 3 and rest.json()["next_cursor"] is None
    times = [e["occurred_at"] for e in items]
    assert times == sorted(times, reverse=True)
    other_query = await admin_http.get(
        f"{API}/security-events", headers=auth, params={"limit": 2, "cursor": page["next_cursor"]}
    )
    assert other_query.status_code == 400
    for params in ({"since": "2026-01-01T00:00:00"}, {"limit": 501}, {"cursor": "!!"}):
        assert (await admin_http.get(f"{API}/security-events", headers=auth, params=params)).status_code in (
            400,
            422,
        ), params
    future = await admin_http.get(
        f"{API}/security-events", headers=auth, params={"since": "2999-01-01T00:00:00Z"}
    )
    assert future.json() == {"items": [], "next_cursor": None}


def _verify(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "NAMOID_DATA_DIR": str(tmp_path / "cli-data"), "NAMOID_DEV_MODE": "false"}
    return subprocess.run(
        [sys.executable, "-m", "namoid", "audit", "verify", "--file", str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def test_the_audit_export_verifies_with_the_cli_and_a_tampered_copy_fails(
    admin_http: httpx.AsyncClient,
    services: Services,
    token: str,
    org: Organization,
    make_user: MakeUser,
    tmp_path: Path,
) -> None:
    for _ in range(3):
        await make_user()
    await sealing.seal_all(services, [org])
    await make_user()  # one entry not sealed yet: exported with "seal": null
    response = await admin_http.get(f"{API}/audit/export", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/jsonl"
    lines = response.text.splitlines()
    entries = [json.loads(line) for line in lines]
    assert {e["org_id"] for e in entries} == {str(org.id)} and entries[-1]["seal"] is None
    assert sum(e["action"] == "user.created" for e in entries) == 4
    exported = tmp_path / "audit.jsonl"
    exported.write_text(response.text, encoding="utf-8")
    verified = _verify(exported, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)[0]["intact"] is True

    tampered = [dict(e) for e in entries]
    tampered[1]["action"] = "user.deleted"
    altered = tmp_path / "tampered.jsonl"
    altered.write_text("".join(json.dumps(e) + "\n" for e in tampered), encoding="utf-8")
    broken = _verify(altered, tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert json.loads(broken.stdout)[0]["problem"]["position"] is not None

    filtered = await admin_http.get(
        f"{API}/audit/export", headers=bearer(token), params={"action": "org.created"}
    )
    assert [json.loads(line)["action"] for line in filtered.text.splitlines()] == ["org.created"]
    naive = await admin_http.get(f"{API}/audit/export", headers=bearer(token), params={"since": "2026-01-01"})
    assert naive.status_code == 422
