"""Backup and restore as the README describes it (issue 17 §5): ``pg_dump`` as the schema owner plus
the keyring; ``pg_restore`` into a fresh database; the audit chain verifies and a user signs in
with the restored data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.quickstart_deployment import quickstart
from tests.e2e.test_oidc_client import PASSWORD, REDIRECT_URI, Tenant
from tests.e2e.test_quickstart import sign_in


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def test_backup_then_restore_into_a_fresh_database_keeps_the_chain_and_the_sign_in(tmp_path: Path) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed")
    with quickstart(tmp_path) as deployment:
        deployment.step("setup")
        node = deployment.node("node.log")
        first = deployment.step("first-org", stdin=PASSWORD, FIRST_USER_EMAIL="ravi@acme.example",
                                CLIENT_REDIRECT_URI=REDIRECT_URI)  # fmt: skip
        client = json.loads(next(line for line in first.stdout.splitlines() if line.startswith("{")))
        tenant = Tenant("acme", client["client_id"], client["client_secret"], "ravi@acme.example")
        assert sign_in(deployment, node, tenant)["status"] == "ready"
        deployment.namoid("worker", "--once")  # seals the audit chain
        deployment.stop(node.process)

        # Back up: the database as its owner, and the keyring (kept apart from the dump).
        settings = deployment.settings()
        owner_url = _libpq(settings["NAMOID_MIGRATION_DATABASE_URL"])
        dump = tmp_path / "backup" / "namoid.dump"
        dump.parent.mkdir(mode=0o700)
        deployment.run("pg_dump", "--format=custom", f"--file={dump}", f"--dbname={owner_url}")
        shutil.copy2(deployment.config_dir / "keyring.json", tmp_path / "backup" / "keyring.json")

        # Restore: a fresh database owned by the owner role, the dump restored as that role.
        restored = f"{deployment.env['DB_NAME']}_restored"
        owner, app = deployment.env["OWNER_ROLE"], deployment.env["APP_ROLE"]
        create = f'CREATE DATABASE "{restored}" OWNER "{owner}"'
        deployment.run("psql", deployment.env["PG_ADMIN_URL"], "-v", "ON_ERROR_STOP=1", "-q", "-c", create)
        restored_owner_url = owner_url.rsplit("/", 1)[0] + f"/{restored}"
        deployment.run(
            "pg_restore",
            "--exit-on-error",
            "--no-owner",
            f"--dbname={restored_owner_url}",
            str(dump),
        )
        lost = f'DROP DATABASE "{deployment.env["DB_NAME"]}" WITH (FORCE)'  # the original is gone
        deployment.run("psql", deployment.env["PG_ADMIN_URL"], "-v", "ON_ERROR_STOP=1", "-q", "-c", lost)
        env_file = deployment.config_dir / "namoid.env"
        env_file.write_text(env_file.read_text().replace(f"/{deployment.env['DB_NAME']}\n", f"/{restored}\n"))
        shutil.copy2(tmp_path / "backup" / "keyring.json", deployment.config_dir / "keyring.json")
        assert (
            f"/{restored}" in deployment.settings()["NAMOID_DATABASE_URL"]
            and app in deployment.settings()["NAMOID_DATABASE_URL"]
        )

        verified = json.loads(deployment.namoid("audit", "verify", "--json").stdout)
        assert verified and all(v["intact"] and v["checked"] > 0 and not v["unsealed"] for v in verified), (
            verified
        )
        node = deployment.node("restored-node.log")
        assert sign_in(deployment, node, tenant)["status"] == "ready"
