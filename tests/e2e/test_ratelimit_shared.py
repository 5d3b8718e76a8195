"""Two ``namoid serve`` processes on one Redis count in the same rate-limit windows (issue 6)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from namoid.crypto.keyring import Keyring
from namoid.crypto.tls import ensure_dev_certificate
from namoid.storage.db import Database
from namoid.tenancy import organizations
from tests.conftest import POSTGRES_ONLY, Backend
from tests.e2e.test_server import running
from tests.features.conftest import ADMIN
from tests.unit.ratelimit.test_limiter import require_redis


async def _create_org(url: str, keyring: Path, slug: str) -> None:
    db = Database(url)
    try:
        await organizations.create(db, Keyring.load(keyring), slug, "Shared limits", ADMIN)
    finally:
        await db.dispose()


@POSTGRES_ONLY
def test_two_processes_share_one_limit(backend: Backend, tmp_path: Path, keyring_file: Path) -> None:
    redis_url = require_redis()
    keyring = keyring_file  # the shared database's one keyring
    slug = f"shared-{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_org(backend.app_url, keyring, slug))
    cert, key = ensure_dev_certificate(tmp_path / "tls")
    env = {
        "NAMOID_DATABASE_URL": backend.app_url,
        "NAMOID_TLS_CERT_FILE": str(cert),
        "NAMOID_TLS_KEY_FILE": str(key),
        "NAMOID_KEYRING_FILE": str(keyring),
        "NAMOID_REDIS_URL": redis_url,
        "NAMOID_RATE_LIMITS": json.dumps({"token.ip": "4/minute"}),
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    client_id = f"client-{uuid.uuid4().hex}"
    form = {"grant_type": "client_credentials", "client_id": client_id}
    with (
        running(tmp_path / "a", cert, env) as first,
        running(tmp_path / "b", cert, env) as second,
        first.client() as one,
        second.client() as two,
    ):
        statuses = [(one if i % 2 else two).post(f"/o/{slug}/token", data=form).status_code for i in range(7)]
    assert statuses == [401, 401, 401, 401, 429, 429, 429]
