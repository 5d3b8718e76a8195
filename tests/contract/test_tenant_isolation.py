"""Tenant isolation, enforced twice (DESIGN.md §2): repo filters and PostgreSQL RLS."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import uuid

import pytest
from sqlalchemy import Uuid, bindparam, select, text
from sqlalchemy.exc import DBAPIError

from namoid import audit
from namoid.accounts import users as user_service
from namoid.oauth import client_metadata, client_registry
from namoid.services import Services
from namoid.storage import repos
from namoid.storage.db import Database, UnsafeDatabaseRole
from namoid.storage.models import TENANT_TABLES, AuditEntry, Client, SigningKey, User
from namoid.storage.repos import audit_log, clients, signing_keys, users
from namoid.tenancy import organizations as org_service
from tests.conftest import POSTGRES_ONLY, Backend

ADMIN = audit.Actor("admin", "test")
#: Repo modules that touch no tenant table: organizations (looked up before an org is known) and
#: invalidations (a NOTIFY to the node caches, no table at all).
NOT_TENANT_REPOS = {"organizations", "invalidations"}
#: Every other repo module works on tenant tables; a new module is covered automatically.
TENANT_REPOS = tuple(
    importlib.import_module(f"{repos.__name__}.{m.name}")
    for m in pkgutil.iter_modules(repos.__path__)
    if m.name not in NOT_TENANT_REPOS
)


async def _org_with_data(services: Services, tag: str) -> uuid.UUID:
    org = await org_service.create(
        services.db, services.keyring, f"{tag}-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    await user_service.create(
        services.db, org.id, email=f"{tag}@example.com", password=None, phone=None, name=None, actor=ADMIN
    )
    meta = client_metadata.validate(
        name=tag, client_type="confidential", redirect_uris=["https://rp.example/cb"]
    )
    await client_registry.register(services.db, services.keyring, org.id, meta, ADMIN)
    return org.id


@pytest.fixture
async def two_orgs(services: Services) -> tuple[uuid.UUID, uuid.UUID]:
    return await _org_with_data(services, "alpha"), await _org_with_data(services, "beta")


def test_every_tenant_repo_function_takes_session_and_org_id() -> None:
    for module in TENANT_REPOS:
        for name, func in inspect.getmembers(module, inspect.iscoroutinefunction):
            if func.__module__ != module.__name__:
                continue
            params = list(inspect.signature(func).parameters)
            assert params[:2] == ["session", "org_id"], f"{module.__name__}.{name} is not org-scoped"


def test_tenant_tables_are_the_models_with_org_id() -> None:
    from namoid.storage.models import Base

    with_org = {t.name for t in Base.metadata.sorted_tables if "org_id" in t.c}
    assert with_org == set(TENANT_TABLES)


async def test_repo_reads_return_only_the_given_org(
    services: Services, two_orgs: tuple[uuid.UUID, uuid.UUID]
) -> None:
    alpha, beta = two_orgs
    async with services.db.tenant(alpha) as session:
        assert [u.email for u in await users.list_active(session, alpha)] == ["alpha@example.com"]
        assert await users.get_by_email(session, alpha, "beta@example.com") is None
        assert [c.name for c in await clients.list_all(session, alpha)] == ["alpha"]
        assert all(k.org_id == alpha for k in await signing_keys.list_all(session, alpha))
        assert all(e.org_id == alpha for e in await audit_log.list_recent(session, alpha))
    async with services.db.tenant(beta) as session:
        beta_client = (await clients.list_all(session, beta))[0]
        beta_user = (await users.list_active(session, beta))[0]
    async with services.db.tenant(alpha) as session:
        assert await clients.get(session, alpha, beta_client.client_id) is None
        assert await users.get(session, alpha, beta_user.id) is None
        assert not await clients.set_secret_hash(session, alpha, beta_client.client_id, "x")
        assert not await users.set_password_hash(session, alpha, beta_user.id, "x")


@POSTGRES_ONLY
async def test_rls_hides_other_orgs_when_the_filter_is_omitted(
    services: Services, two_orgs: tuple[uuid.UUID, uuid.UUID]
) -> None:
    alpha, _ = two_orgs
    async with services.db.tenant(alpha) as session:
        for model in (User, Client, SigningKey):
            orgs = {row.org_id for row in (await session.scalars(select(model))).all()}
            assert orgs == {alpha}, model.__tablename__
        audit_orgs = set((await session.scalars(select(AuditEntry.org_id))).all())
        assert audit_orgs == {alpha}
        raw = (await session.execute(text("SELECT DISTINCT org_id FROM users"))).scalars().all()
        assert raw == [alpha]


@POSTGRES_ONLY
async def test_rls_without_an_org_sees_no_tenant_rows(
    services: Services, two_orgs: tuple[uuid.UUID, uuid.UUID]
) -> None:
    async with services.db.system() as session:
        for table in ("users", "clients", "signing_keys"):
            count = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            assert count == 0, table
        assert (
            await session.execute(text("SELECT count(*) FROM audit_log WHERE org_id IS NOT NULL"))
        ).scalar_one() == 0


@POSTGRES_ONLY
async def test_rls_refuses_writing_into_another_org(
    services: Services, two_orgs: tuple[uuid.UUID, uuid.UUID]
) -> None:
    alpha, beta = two_orgs
    with pytest.raises(DBAPIError, match="row-level security"):
        async with services.db.tenant(alpha) as session:
            session.add(
                User(org_id=beta, email="intruder@example.com", email_verified=False, status="active")
            )
            await session.flush()
    async with services.db.tenant(alpha) as session:
        result = await session.execute(
            text("UPDATE users SET name = 'pwned' WHERE org_id = :b").bindparams(bindparam("b", type_=Uuid)),
            {"b": beta},
        )
        assert result.rowcount == 0  # type: ignore[attr-defined]
        result = await session.execute(
            text("DELETE FROM clients WHERE org_id = :b").bindparams(bindparam("b", type_=Uuid)),
            {"b": beta},
        )
        assert result.rowcount == 0  # type: ignore[attr-defined]
    async with services.db.tenant(beta) as session:
        assert [u.name for u in await users.list_active(session, beta)] == [None]
        assert len(await clients.list_all(session, beta)) == 1


@POSTGRES_ONLY
async def test_app_role_cannot_switch_off_rls(
    services: Services, two_orgs: tuple[uuid.UUID, uuid.UUID]
) -> None:
    alpha, _ = two_orgs
    with pytest.raises(DBAPIError):
        async with services.db.tenant(alpha) as session:
            await session.execute(text("ALTER TABLE users DISABLE ROW LEVEL SECURITY"))
    async with services.db.tenant(alpha) as session:
        await session.execute(text("SET LOCAL row_security = off"))
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(text("SELECT * FROM users"))


@POSTGRES_ONLY
async def test_start_up_refuses_a_role_that_bypasses_rls(backend: Backend, services: Services) -> None:
    await services.db.assert_role_cannot_bypass_rls()  # namoid_app: fine
    owner = Database(backend.owner_url)
    try:
        with pytest.raises(UnsafeDatabaseRole):
            await owner.assert_role_cannot_bypass_rls()
    finally:
        await owner.dispose()
