"""``namoid user export``: an operator writes a user's export to a new file (audited)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from namoid.privacy import export
from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization
from tests.conftest import Backend
from tests.features.conftest import MakeUser
from tests.json_schema_subset import errors


def _namoid(backend: Backend, tmp_path: Path, keyring: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "NAMOID_DATABASE_URL": backend.app_url,
        "NAMOID_KEYRING_FILE": str(keyring),
        "NAMOID_DATA_DIR": str(tmp_path / "data"),
        "NAMOID_DEV_MODE": "false",
    }
    return subprocess.run(
        [sys.executable, "-m", "namoid", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


async def test_an_operator_exports_a_user_to_a_new_file(
    backend: Backend, tmp_path: Path, keyring_file: Path, services: Services, org: Organization,
    make_user: MakeUser,
) -> None:  # fmt: skip
    user = await make_user()
    out = tmp_path / "export.json"
    args = ("user", "export", "--org", org.slug, "--email", user.email, "--out", str(out))
    result = _namoid(backend, tmp_path, keyring_file, *args)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    document = json.loads(out.read_text())
    assert errors(document, export.schema()) == []
    assert document["sections"]["account"]["contacts"][0]["value"] == user.email

    again = _namoid(backend, tmp_path, keyring_file, *args)  # never overwrites
    assert again.returncode == 2 and "exists" in again.stderr
    nobody = (*args[:5], "nobody@example.com", "--out", str(tmp_path / "x"))
    unknown = _namoid(backend, tmp_path, keyring_file, *nobody)
    assert unknown.returncode == 2 and not (tmp_path / "x").exists()

    async with services.db.tenant(org.id) as session:
        query = select(AuditEntry).where(AuditEntry.action == "privacy.exported")
        rows = (await session.scalars(query)).all()
    assert [(r.actor_type, r.target_id) for r in rows] == [("admin", str(user.id))]
