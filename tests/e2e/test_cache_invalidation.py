"""Node caches across processes (issue 15): two ``namoid serve`` nodes on one PostgreSQL and
one Redis (the quickstart's), each caching the client it authenticated. A secret rotated and a
client disabled through the CLI (a third process) are refused by both nodes at once: by the
very next request, not after a cache lifetime."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from namoid.nodecache import UNLISTENED_TTL
from namoid.oauth.client_auth import CLIENT_CACHE_MAX_AGE
from tests.e2e.quickstart_deployment import Deployment, quickstart
from tests.e2e.test_oidc_client import PASSWORD
from tests.e2e.test_server import Server

HOSTS = ("127.0.0.1", "127.0.0.2")


def _grant(deployment: Deployment, node: Server, client_id: str, secret: str) -> int:
    with httpx.Client(verify=deployment.tls(), timeout=10) as http:
        response = http.post(
            f"{node.base_url}/o/acme/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        )
    return response.status_code


def test_rotation_and_disable_reach_every_node_at_once(tmp_path: Path) -> None:
    assert CLIENT_CACHE_MAX_AGE > 60 > UNLISTENED_TTL  # "at once" is not a cache lifetime running out
    with quickstart(tmp_path) as deployment:
        deployment.step("setup")
        deployment.step("first-org", stdin=PASSWORD, FIRST_USER_EMAIL="cache@acme.example")
        created = json.loads(deployment.namoid(
            "client", "create", "--org", "acme", "--name", "Cached", "--type", "confidential",
            "--grant-type", "client_credentials", "--scope", "openid", "--json",
        ).stdout)  # fmt: skip
        client_id, old = created["client_id"], created["client_secret"]
        nodes = [deployment.node(f"node-{i}.log", host) for i, host in enumerate(HOSTS)]
        for node in nodes:  # each node now has the client in its cache
            assert _grant(deployment, node, client_id, old) == 200
            assert _grant(deployment, node, client_id, old) == 200

        rotated = deployment.namoid(
            "client", "rotate-secret", "--org", "acme", "--client-id", client_id, "--json"
        )
        new = json.loads(rotated.stdout)["client_secret"]
        assert [_grant(deployment, node, client_id, old) for node in nodes] == [401, 401]
        assert [_grant(deployment, node, client_id, new) for node in nodes] == [200, 200]

        deployment.namoid("client", "disable", "--org", "acme", "--client-id", client_id)
        assert [_grant(deployment, node, client_id, new) for node in nodes] == [401, 401]
        for node in nodes:
            assert "cannot LISTEN for cache invalidations" not in node.log()
