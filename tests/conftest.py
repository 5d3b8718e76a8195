"""Shared fixtures: real databases (SQLite files and PostgreSQL) and real Redis.

PostgreSQL and Redis come from the environment of the test run:
- ``NAMOID_TEST_PG_ADMIN_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``):
  a superuser connection used to create one scratch database per test session (per xdist worker)
  and the ``namoid_app`` login role; the app itself then connects as ``namoid_app`` (no BYPASSRLS).
- ``NAMOID_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``). Under pytest-xdist each worker
  takes a database of its own counted down from that one: gw0 ``/15``, gw1 ``/14``, … (mod 16).
- ``NAMOID_TEST_REQUIRE_SERVICES=1`` (set by CI): an unreachable PostgreSQL or Redis fails
  the run instead of skipping the tests that need it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from namoid.crypto.keyring import Keyring, create_keyring_file
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.db import Database, make_engine
from namoid.storage.migrate import upgrade_sync
from tests import audit_scan

PG_ADMIN_URL = os.environ.get("NAMOID_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_DATABASES = 16  # Redis's default ``databases``


def worker_redis_url(url: str, worker: str | None) -> str:
    """``url`` with the Redis database of pytest-xdist worker ``worker`` (``gw0``, ``gw1``, …).

    The workers share one Redis server and count down from ``url``'s database, wrapping within
    0..15: ``/15`` gives gw0 ``/15``, gw1 ``/14``, … A serial run (no worker) keeps ``url``.
    """
    if worker is None:
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) - int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{database % REDIS_DATABASES}"))


REDIS_URL = worker_redis_url(
    os.environ.get("NAMOID_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    os.environ.get("PYTEST_XDIST_WORKER"),
)
REQUIRE_SERVICES = os.environ.get("NAMOID_TEST_REQUIRE_SERVICES") == "1"
APP_ROLE = "namoid_app"
APP_PASSWORD = "namoid-app-test-only"
#: Advisory lock key under which test processes create and alter the cluster-wide ``namoid_app``.
APP_ROLE_LOCK = 0x6E616D6F


def unavailable(what: str, why: object) -> None:
    """Skip (or, when CI requires the services, fail) because ``what`` cannot be reached."""
    message = f"{what} unreachable: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (NAMOID_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@dataclass(frozen=True)
class PgDatabase:
    owner_url: str  # superuser: migrations, raw tampering in tests
    app_url: str  # namoid_app: what the server uses


async def admin_sql(sql: list[str], url: str = PG_ADMIN_URL) -> None:
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in sql:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


def prepare_app_role() -> None:
    """Create the ``namoid_app`` login role if missing and set its password, one process at a time.

    A role is cluster-wide: xdist workers altering its one catalog row at once fail with "tuple
    concurrently updated", two creating it at once with a duplicate key. The transaction-scoped
    advisory lock on the admin database makes them take turns; the migrations then find the role.
    """
    asyncio.run(
        admin_sql(
            [
                f"DO $$ BEGIN PERFORM pg_advisory_xact_lock({APP_ROLE_LOCK}); "
                f"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') "
                f"THEN CREATE ROLE {APP_ROLE}; END IF; "
                f"ALTER ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '{APP_PASSWORD}'; END $$"
            ]
        )
    )


@contextmanager
def scratch_pg_database() -> Iterator[PgDatabase]:
    """A new, migrated PostgreSQL database that the ``namoid_app`` role may use; dropped afterwards."""
    name = f"namoid_t_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(admin_sql([f"CREATE DATABASE {name}"]))
    except Exception as exc:  # connection refused, auth failure, …
        unavailable("PostgreSQL", exc)
    base = make_url(PG_ADMIN_URL).set(database=name)
    owner_url = base.render_as_string(hide_password=False)
    app_url = base.set(username=APP_ROLE, password=APP_PASSWORD).render_as_string(hide_password=False)
    try:
        prepare_app_role()
        upgrade_sync(owner_url, APP_ROLE)
        asyncio.run(admin_sql([f"GRANT CONNECT ON DATABASE {name} TO {APP_ROLE}"]))
        yield PgDatabase(owner_url=owner_url, app_url=app_url)
    finally:
        asyncio.run(admin_sql([f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"]))


def no_secrets_in_audit(found: list[str]) -> None:
    """Fail on audit rows carrying secrets (tests/audit_scan.py), after the tests that wrote them."""
    if found:
        pytest.fail("secrets in the audit log:\n" + "\n".join(found[:20]))


async def _scan_pg(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return audit_scan.findings(
                await conn.execute(text(f"SELECT {audit_scan.COLUMNS} FROM audit_log"))
            )
    finally:
        await engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _record_issued_secrets() -> None:
    audit_scan.record_issued_secrets()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[PgDatabase]:
    """One migrated scratch PostgreSQL database for the session; its audit rows are scanned at the end."""
    with scratch_pg_database() as database:
        yield database
        no_secrets_in_audit(asyncio.run(_scan_pg(database.owner_url)))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "namoid.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    return path


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--ignore-certificate-errors",
]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium for Playwright (``apt-get install chromium``); CI requires it."""
    if not CHROMIUM.exists():
        unavailable("chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    return CHROMIUM


#: Run a test on SQLite and on a PostgreSQL database of its own.
ISOLATED = pytest.mark.parametrize("backend", ["sqlite", "postgres-isolated"], indirect=True)

#: Run a test only on PostgreSQL (RLS and privileges exist only there).
POSTGRES_ONLY = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@dataclass(frozen=True)
class Backend:
    name: str
    app_url: str
    owner_url: str


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each test using this runs on a fresh SQLite file and on the shared PostgreSQL database.

    A test that acts on every org of the database (e.g. re-encrypting all of it) asks for
    ``ISOLATED`` instead: PostgreSQL then gets a database of its own for that test.
    """
    if request.param == "postgres":
        pg: PgDatabase = request.getfixturevalue("pg_database")
        yield Backend("postgres", pg.app_url, pg.owner_url)
    elif request.param == "postgres-isolated":
        with scratch_pg_database() as own:
            yield Backend("postgres-isolated", own.app_url, own.owner_url)
            no_secrets_in_audit(asyncio.run(_scan_pg(own.owner_url)))
    else:
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "namoid.db"
        path.write_bytes(template.read_bytes())
        url = f"sqlite+aiosqlite:///{path}"
        yield Backend("sqlite", url, url)
        no_secrets_in_audit(audit_scan.scan_sqlite(str(path)))


@pytest.fixture(scope="session")
def pg_keyring_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared PostgreSQL database is one deployment, so it has one keyring."""
    path = tmp_path_factory.mktemp("pg-keyring") / "keyring.json"
    create_keyring_file(path)
    return path


@pytest.fixture
def keyring_file(request: pytest.FixtureRequest, backend: Backend, tmp_path: Path) -> Path:
    if backend.name == "postgres":
        path: Path = request.getfixturevalue("pg_keyring_file")
        return path
    path = tmp_path / "keyring.json"
    create_keyring_file(path)
    return path


@pytest.fixture
def settings(backend: Backend, tmp_path: Path, keyring_file: Path) -> Settings:
    return Settings(
        database_url=backend.app_url,
        data_dir=tmp_path / "data",
        keyring_file=keyring_file,
        dev_mode=False,
    )


@pytest.fixture
async def services(settings: Settings, keyring_file: Path) -> AsyncIterator[Services]:
    svc = Services(
        settings=settings, db=Database(settings.resolved_database_url), keyring=Keyring.load(keyring_file)
    )
    yield svc
    await svc.close()


@pytest.fixture
async def owner_db(backend: Backend) -> AsyncIterator[Database]:
    """A connection as the schema owner (superuser on PostgreSQL) for raw checks."""
    db = Database(backend.owner_url)
    yield db
    await db.dispose()
