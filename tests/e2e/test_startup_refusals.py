"""Production refuses to start on unusable settings: one line naming the setting, nothing changed
(issue 17, Bad input). ``namoid serve`` as a real process, as operators start it."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from namoid import audit
from namoid.crypto.keyring import Keyring, create_keyring_file
from namoid.crypto.tls import ensure_dev_certificate
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry
from namoid.tenancy import organizations
from tests.conftest import POSTGRES_ONLY, Backend
from tests.e2e.private_redis import private_redis
from tests.e2e.test_server import _production, _refused, free_port, running


@pytest.fixture
def tls_pair(tmp_path: Path) -> tuple[Path, Path]:
    return ensure_dev_certificate(tmp_path / "tls")


async def _state(backend: Backend) -> int:
    db = Database(backend.owner_url)
    try:
        async with db.system() as session:
            return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
    finally:
        await db.dispose()


async def _org_with_keys(backend: Backend, keyring_file: Path) -> None:
    db = Database(backend.app_url)
    try:
        slug = f"deploy-{uuid.uuid4().hex[:8]}"
        await organizations.create(db, Keyring.load(keyring_file), slug, "Deployment", audit.Actor("system"))
    finally:
        await db.dispose()


def _one_line_naming(result: subprocess.CompletedProcess[str], setting: str) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: refusing to start: {setting}:"), line
    return line


@POSTGRES_ONLY
def test_each_unusable_production_setting_is_one_line_and_changes_nothing(
    backend: Backend, tmp_path: Path, tls_pair: tuple[Path, Path], keyring_file: Path
) -> None:
    asyncio.run(_org_with_keys(backend, keyring_file))
    keyring = tmp_path / "keyring.json"
    entries = asyncio.run(_state(backend))
    with private_redis(tmp_path) as own_redis:
        env = _production(backend, tmp_path, tls_pair, NAMOID_REDIS_URL=own_redis.url)
        del env["NAMOID_RATELIMIT_SINGLE_NODE"]  # a shared Redis: the node logs nothing before it refuses

        assert "not found" in _one_line_naming(_refused(env), "NAMOID_KEYRING_FILE")
        keyring.write_text("{not json")
        keyring.chmod(0o600)
        assert "not valid JSON" in _one_line_naming(_refused(env), "NAMOID_KEYRING_FILE")

        shutil.copy2(keyring_file, keyring)
        keyring.chmod(0o644)
        assert "mode 0644" in _one_line_naming(_refused(env), "NAMOID_KEYRING_FILE")

        keyring.unlink()
        create_keyring_file(keyring)  # valid, private, but another deployment's
        foreign = keyring.read_bytes()
        assert "another deployment" in _one_line_naming(_refused(env), "NAMOID_KEYRING_FILE")
        assert keyring.read_bytes() == foreign

        keyring.unlink()
        shutil.copy2(keyring_file, keyring)
        superuser = env | {"NAMOID_DATABASE_URL": backend.owner_url}
        assert "BYPASSRLS" in _one_line_naming(_refused(superuser), "NAMOID_DATABASE_URL")

        closed = env | {"NAMOID_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
        assert "unreachable" in _one_line_naming(_refused(closed), "NAMOID_REDIS_URL")

        _, other_key = ensure_dev_certificate(tmp_path / "other-tls")
        mismatched = env | {"NAMOID_TLS_KEY_FILE": str(other_key)}
        assert "does not match" in _one_line_naming(_refused(mismatched), "NAMOID_TLS_KEY_FILE")

        assert asyncio.run(_state(backend)) == entries  # no refusal wrote anything
        assert keyring.read_bytes() == keyring_file.read_bytes()


@POSTGRES_ONLY
def test_the_deployment_keyring_starts_with_a_reachable_redis(
    backend: Backend, tmp_path: Path, tls_pair: tuple[Path, Path], keyring_file: Path
) -> None:
    """The control: with the same settings made right, the node starts and is ready."""
    asyncio.run(_org_with_keys(backend, keyring_file))
    shutil.copy2(keyring_file, tmp_path / "keyring.json")
    with private_redis(tmp_path) as own_redis:
        env = _production(backend, tmp_path, tls_pair, NAMOID_REDIS_URL=own_redis.url)
        with running(tmp_path, tls_pair[0], env) as server, server.client() as client:
            assert client.get("/readyz").json()["checks"] == {"database": "ok", "redis": "ok"}
