"""``namoid keys init``: the first production keyring, plain or wrapped under AWS KMS (issue 17 §1).

Only the AWS API is simulated (moto); the keyring, the CLI and the database are the real ones.
"""

from __future__ import annotations

import asyncio
import base64
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import select
from typer.testing import CliRunner

from namoid.cli.main import app
from namoid.crypto.keyring import Keyring, KeyringFileError, create_keyring_file
from namoid.crypto.kms import KmsWrap
from namoid.services import load_keyring
from namoid.settings import Settings
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry
from tests.conftest import ISOLATED, Backend

REGION = "ap-south-1"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, so nothing here can reach a real AWS account."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def kms_key() -> Iterator[str]:
    with mock_aws():
        yield boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]


def _env(backend: Backend, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "NAMOID_DATABASE_URL": backend.app_url,
        "NAMOID_KEYRING_FILE": str(tmp_path / "keys" / "keyring.json"),
        "NAMOID_DATA_DIR": str(tmp_path / "data"),
        "NAMOID_DEV_MODE": "false",
        **extra,
    }


def _namoid(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=env)


def _actions(backend: Backend) -> list[str]:
    """The system audit entries' actions, in order (CLI commands run their own event loop)."""

    async def read() -> list[str]:
        db = Database(backend.owner_url)
        try:
            async with db.system() as session:
                query = select(AuditEntry.action).where(AuditEntry.org_id.is_(None)).order_by(AuditEntry.seq)
                return list(await session.scalars(query))
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_init_creates_a_private_keyring_says_what_to_back_up_and_never_overwrites(
    backend: Backend, tmp_path: Path
) -> None:
    env = _env(backend, tmp_path)
    path = tmp_path / "keys" / "keyring.json"
    result = _namoid(env, "keys", "init")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "BACK IT UP" in result.stdout and "COPY IT" in result.stdout and str(path) in result.stdout
    ring = load_keyring(Settings(**{k.removeprefix("NAMOID_").lower(): v for k, v in env.items()}))
    assert ring.active_key_id in result.stdout
    assert "keyring.created" in _actions(backend)

    before = path.read_bytes()
    again = _namoid(env, "keys", "init")
    assert again.exit_code == 2 and "already exists" in again.output
    assert path.read_bytes() == before

    elsewhere = tmp_path / "second.json"
    assert _namoid(env, "keys", "init", "--file", str(elsewhere), "--json").exit_code == 0
    assert Keyring.load(elsewhere).pepper != ring.pepper


def test_init_without_a_reachable_database_creates_nothing(tmp_path: Path) -> None:
    env = {
        "NAMOID_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        "NAMOID_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "NAMOID_DEV_MODE": "false",
    }
    result = _namoid(env, "keys", "init")
    assert result.exit_code == 2 and "NAMOID_DATABASE_URL" in result.output
    assert not (tmp_path / "keyring.json").exists()


@ISOLATED  # keys reencrypt opens every org's values: only this test's, under this test's keyring
def test_a_kms_wrapped_keyring_reveals_nothing_and_keeps_working(
    backend: Backend, tmp_path: Path, kms_key: str
) -> None:
    env = _env(backend, tmp_path, NAMOID_KEYRING_KMS_KEY_ID=kms_key)
    path = tmp_path / "keys" / "keyring.json"
    result = _namoid(env, "keys", "init", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kms_key_id"] == kms_key

    document = json.loads(path.read_text())
    assert set(document) == {"version", "kms"} and document["kms"]["key_id"] == kms_key
    kms = KmsWrap(REGION)  # opening needs no key id: the file names its KMS key
    ring = Keyring.load(path, kms)
    for secret in (ring.pepper,):
        encoded = base64.urlsafe_b64encode(secret).rstrip(b"=").decode()
        assert encoded not in path.read_text()  # a stolen copy of the file holds no key material
    with pytest.raises(KeyringFileError, match="wrapped under AWS KMS"):
        Keyring.load(path)

    # Every command that loads the keyring opens the wrapped form; changes re-wrap it.
    added = _namoid(env, "keys", "add", "--json")
    assert added.exit_code == 0, added.output
    new_key = json.loads(added.stdout)["key_id"]
    assert _namoid(env, "keys", "activate", new_key).exit_code == 0
    assert _namoid(env, "keys", "reencrypt").exit_code == 0
    assert _namoid(env, "keys", "retire", ring.active_key_id).exit_code == 0
    listed = json.loads(_namoid(env, "keys", "list", "--json").stdout)
    assert {(k["id"], k["status"]) for k in listed} == {(ring.active_key_id, "retired"), (new_key, "active")}
    assert set(json.loads(path.read_text())) == {"version", "kms"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.load(path, kms).pepper == ring.pepper  # the pepper survives every change
    actions = [a for a in _actions(backend) if a.startswith("keyring.")]
    assert actions[-4:] == [
        "keyring.created",
        "keyring.key_added",
        "keyring.key_activated",
        "keyring.key_retired",
    ]


def test_a_tampered_or_foreign_wrapped_keyring_is_refused(tmp_path: Path, kms_key: str) -> None:
    path = tmp_path / "keyring.json"
    kms = KmsWrap(REGION, kms_key)
    create_keyring_file(path, kms)
    document = json.loads(path.read_text())
    sealed = bytearray(base64.b64decode(document["kms"]["ciphertext"]))
    sealed[0] ^= 1
    document["kms"]["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    path.write_text(json.dumps(document))
    with pytest.raises(KeyringFileError, match="does not open"):
        Keyring.load(path, kms)

    create_keyring_file(other := tmp_path / "other.json", kms)
    document = json.loads(other.read_text())
    document["kms"]["key_id"] = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    other.write_text(json.dumps(document))
    with pytest.raises(KeyringFileError, match="refused"):
        Keyring.load(other, kms)
