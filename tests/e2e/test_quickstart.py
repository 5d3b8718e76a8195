"""The README's production quickstart, replayed literally (issue 17 §2): ``deploy/quickstart.sh``
on a scratch PostgreSQL database and a Redis of its own, then a sign-in through a relying party
(authlib) and ``/readyz`` answering ready."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import httpx
import pytest

from tests.e2e.quickstart_deployment import SCRIPT, Deployment, quickstart
from tests.e2e.test_oidc_client import PASSWORD, REDIRECT_URI, Browser, IdP, Tenant, _code_flow
from tests.e2e.test_server import Server

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_shows_the_script_it_replays() -> None:
    readme = README.read_text()
    for step in ("setup", "serve", "worker", "check", "first-org"):
        assert f"deploy/quickstart.sh {step}" in readme
    assert "deploy/quickstart.sh" in SCRIPT.read_text()


def sign_in(deployment: Deployment, node: Server, tenant: Tenant) -> dict[str, object]:
    """authlib's code flow through the public URL (BASE_URL), then /readyz there."""
    public = Server(node.process, deployment.env["BASE_URL"], deployment.cafile, node.log_path)
    idp = IdP(public, deployment.settings(), (deployment.cafile, deployment.cafile))

    async def flow() -> dict[str, object]:
        async with httpx.AsyncClient(verify=idp.context, timeout=10) as http:
            _, token, id_claims = await _code_flow(idp, tenant, Browser(http))
            assert id_claims["sub"] and token["access_token"]
            ready: dict[str, object] = (await http.get(f"{public.base_url}/readyz")).json()
        return ready

    return asyncio.run(flow())


def test_a_newcomer_follows_the_quickstart_to_a_sign_in(tmp_path: Path) -> None:
    with quickstart(tmp_path) as deployment:
        setup = deployment.step("setup")
        keyring = deployment.config_dir / "keyring.json"
        assert "BACK IT UP" in setup.stdout and stat.S_IMODE(keyring.stat().st_mode) == 0o600
        assert stat.S_IMODE((deployment.config_dir / "namoid.env").stat().st_mode) == 0o600

        node = deployment.node("node.log")
        deployment.spawn("worker", "worker.log")
        check = deployment.step("check").stdout.splitlines()
        assert json.loads(check[0]) == {"status": "ok"}
        assert json.loads(check[1]) == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}

        first = deployment.step(
            "first-org",
            stdin=PASSWORD,
            FIRST_USER_EMAIL="asha@acme.example",
            CLIENT_REDIRECT_URI=REDIRECT_URI,
        )
        client = json.loads(next(line for line in first.stdout.splitlines() if line.startswith("{")))
        assert client["client_id"] and client["client_secret"]

        tenant = Tenant("acme", client["client_id"], client["client_secret"], "asha@acme.example")
        assert sign_in(deployment, node, tenant)["status"] == "ready"
        assert "Traceback" not in node.log()


@pytest.mark.parametrize("missing", ["OWNER_PASSWORD", "APP_PASSWORD"])
def test_setup_needs_both_passwords(tmp_path: Path, missing: str) -> None:
    with quickstart(tmp_path) as deployment:
        deployment.env[missing] = ""
        with pytest.raises(AssertionError, match="set OWNER_PASSWORD and APP_PASSWORD"):
            deployment.step("setup")
        assert not deployment.config_dir.exists()
