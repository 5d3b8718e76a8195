"""The admin API end to end (issue 16): a real ``namoid serve``, a client the operator granted
admin scopes with the CLI, a token from the public port's token endpoint (RFC 8707 resource),
and the admin port answering it; the public port never serves the admin API."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_server import Server, _env, start, stop


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start(tmp_path_factory.mktemp("admin-e2e"))
    yield running
    stop(running)


def _cli(server: Server, *args: str) -> dict[str, object]:
    env = _env(
        NAMOID_BASE_URL=server.base_url,
        NAMOID_ADMIN_BASE_URL=server.admin_url or "",
        NAMOID_DATA_DIR=str(server.log_path.parent / "data"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "namoid", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_an_automation_client_manages_its_org_through_the_admin_port(server: Server) -> None:
    assert server.admin_url is not None
    robot = _cli(server, "client", "create", "--org", "demo", "--name", "Robot", "--type", "confidential",
                 "--grant-type", "client_credentials")  # fmt: skip
    client_id, secret = str(robot["client_id"]), str(robot["client_secret"])
    _cli(server, "client", "allow-admin", "--org", "demo", "--client-id", client_id,
         "--scope", "admin:clients:read", "--scope", "admin:audit:read")  # fmt: skip
    resource = f"{server.admin_url}/admin/v1"
    with server.client() as public:
        issued = public.post(
            "/o/demo/token",
            data={"grant_type": "client_credentials", "resource": resource},
            auth=(client_id, secret),
        )
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        assert issued.json()["scope"] == "admin:clients:read admin:audit:read"
        assert (
            public.get("/admin/v1/clients", headers={"Authorization": f"Bearer {token}"}).status_code == 404
        )
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.admin_url, verify=server.context, timeout=10) as admin:
        listed = admin.get("/admin/v1/clients", headers=headers)
        audit = admin.get("/admin/v1/audit", headers=headers, params={"action": "client.updated"})
        refused = admin.post("/admin/v1/users", headers=headers, json={"email": "x@example.com"})
    assert listed.status_code == 200 and client_id in {c["client_id"] for c in listed.json()["items"]}
    assert audit.status_code == 200 and audit.json()["items"][-1]["detail"]["admin_scopes"] == [
        "admin:clients:read",
        "admin:audit:read",
    ]
    assert refused.status_code == 403 and "insufficient_scope" in refused.headers["www-authenticate"]


def test_the_admin_port_serves_nothing_of_the_public_app(server: Server) -> None:
    with httpx.Client(base_url=server.admin_url or "", verify=server.context, timeout=10) as admin:
        for path in ("/o/demo/.well-known/openid-configuration", "/demo", "/static/app.css"):
            response = admin.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"
