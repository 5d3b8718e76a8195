"""The ``namoid`` command as operators and scripts use it: a real process on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from namoid import audit
from namoid.accounts import users
from namoid.crypto.keyring import Keyring
from namoid.crypto.secrets import verify_client_secret
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, Client, Organization, SigningKey, User
from namoid.tenancy import organizations
from tests.conftest import ISOLATED, Backend

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env() -> dict[str, str]:
    """More environment for the ``cli`` process; a test sets it with ``@pytest.mark.parametrize``."""
    return {}


@pytest.fixture
def cli(backend: Backend, tmp_path: Path, keyring_file: Path, cli_env: dict[str, str]) -> Cli:
    env = {
        "PATH": "/usr/bin:/bin",
        "NAMOID_DATABASE_URL": backend.app_url,
        "NAMOID_KEYRING_FILE": str(keyring_file),
        "NAMOID_DATA_DIR": str(tmp_path / "data"),
        "NAMOID_DEV_MODE": "false",
    } | cli_env

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "namoid", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    return run


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def _audit_actions(owner_db: Database, org_id: uuid.UUID | None) -> list[str]:
    async with owner_db.system() as session:
        where = AuditEntry.org_id.is_(None) if org_id is None else AuditEntry.org_id == org_id
        rows = await session.scalars(select(AuditEntry.action).where(where).order_by(AuditEntry.seq))
        return list(rows)


async def _count(owner_db: Database, model: Any) -> int:
    async with owner_db.system() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_org_client_user_flow_writes_audit_entries(
    cli: Cli, owner_db: Database, keyring_file: Path
) -> None:
    slug = f"acme-{uuid.uuid4().hex[:6]}"
    org = ok_json(cli("org", "create", slug, "--name", "Acme Corp", "--json"))
    assert org["slug"] == slug and org["issuer"].endswith(f"/o/{slug}")
    created = ok_json(
        cli(
            "client",
            "create",
            "--org",
            slug,
            "--name",
            "Acme Web",
            "--type",
            "confidential",
            "--redirect-uri",
            "https://app.acme.example/cb",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "client_credentials",
            "--scope",
            "openid",
            "--scope",
            "email",
            "--auth-method",
            "client_secret_post",
            "--json",
        )
    )
    assert set(created) == {"client_id", "client_secret"}
    public = ok_json(
        cli(
            "client",
            "create",
            "--org",
            slug,
            "--name",
            "Acme App",
            "--type",
            "public",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--json",
        )
    )
    assert set(public) == {"client_id"}
    user = ok_json(
        cli(
            "user",
            "create",
            "--org",
            slug,
            "--email",
            "Asha@Acme.Example",
            "--phone",
            "+919812345678",
            "--name",
            "Asha",
            "--password-stdin",
            "--json",
            stdin="correct horse battery staple\n",
        )
    )
    assert user["email"] == "asha@acme.example"

    org_id = uuid.UUID(org["id"])
    assert await _audit_actions(owner_db, org_id) == [
        "org.created",
        "signing_key.created",
        "client.created",
        "client.created",
        "user.created",
    ]
    async with owner_db.system() as session:
        client = await session.scalar(select(Client).where(Client.client_id == created["client_id"]))
        stored_user = await session.scalar(select(User).where(User.id == uuid.UUID(user["id"])))
    assert client is not None and stored_user is not None
    pepper = Keyring.load(keyring_file).pepper
    assert client.secret_hash and created["client_secret"] not in client.secret_hash
    assert verify_client_secret(created["client_secret"], client.secret_hash, pepper)
    assert client.token_endpoint_auth_method == "client_secret_post"
    assert stored_user.password_hash and stored_user.password_hash.startswith("$argon2id$")

    listed = ok_json(cli("client", "list", "--org", slug, "--json"))
    assert {c["client_id"] for c in listed} == {created["client_id"], public["client_id"]}
    assert created["client_secret"] not in json.dumps(listed)
    assert all("client_secret" not in c and "secret_hash" not in c for c in listed)
    assert [u["email"] for u in ok_json(cli("user", "list", "--org", slug, "--json"))] == [
        "asha@acme.example"
    ]
    assert slug in [o["slug"] for o in ok_json(cli("org", "list", "--json"))]


async def test_rotate_secret_invalidates_the_old_one(
    cli: Cli, owner_db: Database, keyring_file: Path
) -> None:
    slug = f"rot-{uuid.uuid4().hex[:6]}"
    ok_json(cli("org", "create", slug, "--json"))
    first = ok_json(
        cli(
            "client",
            "create",
            "--org",
            slug,
            "--name",
            "svc",
            "--type",
            "confidential",
            "--grant-type",
            "client_credentials",
            "--json",
        )
    )
    second = ok_json(
        cli("client", "rotate-secret", "--org", slug, "--client-id", first["client_id"], "--json")
    )
    assert second["client_secret"] != first["client_secret"]
    async with owner_db.system() as session:
        client = await session.scalar(select(Client).where(Client.client_id == first["client_id"]))
    assert client is not None and client.secret_hash
    pepper = Keyring.load(keyring_file).pepper
    assert verify_client_secret(second["client_secret"], client.secret_hash, pepper)
    assert not verify_client_secret(first["client_secret"], client.secret_hash, pepper)
    assert (await _audit_actions(owner_db, client.org_id))[-1] == "client.secret_rotated"


async def test_set_password(cli: Cli, owner_db: Database) -> None:
    slug = f"pw-{uuid.uuid4().hex[:6]}"
    ok_json(cli("org", "create", slug, "--json"))
    ok_json(cli("user", "create", "--org", slug, "--email", "u@example.com", "--json"))
    result = cli(
        "user",
        "set-password",
        "--org",
        slug,
        "--email",
        "u@example.com",
        "--password-stdin",
        stdin="a much better passphrase\n",
    )
    assert result.returncode == 0, result.stderr
    async with owner_db.system() as session:
        org_id = await session.scalar(select(Organization.id).where(Organization.slug == slug))
    assert (await _audit_actions(owner_db, org_id))[-1] == "user.password_set"


CLIENT = "client create --org {org} --name x"
PUBLIC = f"{CLIENT} --type public --redirect-uri https://a.example/cb"
BAD_INPUT = [
    ("org create 'Not A Slug'", None, "invalid organization slug"),
    (
        "client create --org no-such-org --name x --type public --redirect-uri https://a.example/cb",
        None,
        "no organization",
    ),
    (f"{CLIENT} --type confidential --redirect-uri http://evil.example/cb", None, "must use https"),
    (f"{CLIENT} --type public --redirect-uri https://a.example/cb#frag", None, "fragment"),
    (
        f"{CLIENT} --type public --grant-type password --redirect-uri https://a.example/cb",
        None,
        "not supported",
    ),
    (
        f"{CLIENT} --type public --auth-method client_secret_basic --redirect-uri https://a.example/cb",
        None,
        "public clients",
    ),
    (f"{CLIENT} --type weird --redirect-uri https://a.example/cb", None, "client type"),
    ("client rotate-secret --org {org} --client-id nope", None, "no client"),
    ("user create --org {org} --email not-an-email", None, "invalid email"),
    ("user create --org {org} --email a@b.example --phone 98123", None, "E.164"),
    ("user create --org {org} --email a@b.example --password-stdin", "short\n", "password must"),
    ("user create --org {org} --email a@b.example --password-stdin", "", "no password"),
    ("user create --org {org} --email dup@b.example", None, "already exists"),
    ("org create {org}", None, "already exists"),
    ("keys activate k-nope", None, "k-nope"),
    (f"{PUBLIC} --refresh-ttl 60", None, "between"),
    (f"{PUBLIC} --refresh-idle-ttl 40000000", None, "between"),
    (f"{PUBLIC} --refresh-idle-ttl 3600000", None, "cannot exceed"),  # above the org's 30 days
    (f"{PUBLIC} --refresh-ttl 7200 --refresh-idle-ttl 9000", None, "cannot exceed"),
    (f"{PUBLIC} --offline-on-logout maybe", None, "keep, end"),
    (f"{PUBLIC} --refresh-reuse-window 61", None, "between 0 and 60"),
    (f"{PUBLIC} --refresh-reuse-window -1", None, "between 0 and 60"),
    ("client set-lifetimes --org {org} --client-id nope --refresh-ttl 7200", None, "no client"),
    ("client set-lifetimes --org {org} --client-id nope", None, "at least one"),
    ("client disable --org {org} --client-id nope", None, "no client"),
    ("client enable --org {org} --client-id nope", None, "no client"),
    ("client disable --org no-such-org --client-id nope", None, "no organization"),
    ("user disable --org {org} --email nobody@b.example", None, "no user"),
    ("user disable --org {org} --email dup@b.example --reason ''", None, "reason must be"),
    ("user enable --org {org} --email dup@b.example", None, "not disabled"),
    ("user delete --org {org} --email not-an-email", None, "invalid email"),
    ("user delete --org no-such-org --email dup@b.example", None, "no organization"),
]


@pytest.mark.parametrize(("command", "stdin", "message"), BAD_INPUT)
async def test_bad_input_exits_2_and_writes_nothing(
    cli: Cli,
    services: Services,
    owner_db: Database,
    command: str,
    stdin: str | None,
    message: str,
) -> None:
    slug = f"bad-{uuid.uuid4().hex[:6]}"
    actor = audit.Actor("admin", "test")
    org = await organizations.create(services.db, services.keyring, slug, None, actor)
    await users.create(
        services.db, org.id, email="dup@b.example", password=None, phone=None, name=None, actor=actor
    )
    before = [await _count(owner_db, m) for m in (Organization, User, Client, AuditEntry, SigningKey)]
    result = cli(*shlex.split(command.format(org=slug)), stdin=stdin)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    after = [await _count(owner_db, m) for m in (Organization, User, Client, AuditEntry, SigningKey)]
    assert after == before


def test_password_is_never_taken_from_argv(cli: Cli) -> None:
    result = cli("user", "create", "--org", "x", "--email", "a@b.example", "--password", "hunter22hunter22")
    assert result.returncode == 2
    assert "No such option" in result.stderr


@ISOLATED
async def test_keyring_rotation_round_trip(cli: Cli, owner_db: Database, keyring_file: Path) -> None:
    slug = f"kr-{uuid.uuid4().hex[:6]}"
    org = ok_json(cli("org", "create", slug, "--json"))
    org_id = uuid.UUID(org["id"])
    old_key = Keyring.load(keyring_file).active_key_id
    new_key = ok_json(cli("keys", "add", "--json"))["key_id"]
    ok_json(cli("keys", "activate", new_key, "--json"))
    refused = cli("keys", "retire", old_key)
    assert refused.returncode == 2 and "reencrypt" in refused.stderr
    assert ok_json(cli("keys", "reencrypt", "--json"))["reencrypted"] >= 1
    ok_json(cli("keys", "retire", old_key, "--json"))
    statuses = {k["id"]: k["status"] for k in ok_json(cli("keys", "list", "--json"))}
    assert statuses == {old_key: "retired", new_key: "active"}
    async with owner_db.system() as session:
        envelopes = list(
            await session.scalars(select(SigningKey.private_key_enc).where(SigningKey.org_id == org_id))
        )
    keyring = Keyring.load(keyring_file)
    assert envelopes and all(keyring.is_current(e) for e in envelopes)
    assert ok_json(cli("keys", "reencrypt", "--json"))["reencrypted"] == 0
    async with owner_db.system() as session:
        system = list(
            await session.execute(
                select(AuditEntry.action, AuditEntry.target_id)
                .where(AuditEntry.org_id.is_(None), AuditEntry.target_id.in_([old_key, new_key]))
                .order_by(AuditEntry.seq)
            )
        )
    assert [tuple(r) for r in system] == [
        ("keyring.key_added", new_key),
        ("keyring.key_activated", new_key),
        ("keyring.key_retired", old_key),
    ]
    assert "keyring.reencrypted" in await _audit_actions(owner_db, org_id)


async def test_set_lifetimes(cli: Cli, owner_db: Database) -> None:
    slug = f"lt-{uuid.uuid4().hex[:6]}"
    org = ok_json(cli("org", "create", slug, "--json"))
    result = ok_json(
        cli("org", "set-lifetimes", slug, "--access-token-ttl", "300", "--code-ttl", "30", "--json")
    )
    assert result["access_token_ttl"] == 300 and result["code_ttl"] == 30 and result["id_token_ttl"] == 600
    assert (await _audit_actions(owner_db, uuid.UUID(org["id"])))[-1] == "org.lifetimes_changed"
    refused = cli("org", "set-lifetimes", slug, "--access-token-ttl", "1")
    assert refused.returncode == 2 and "between" in refused.stderr
    nothing = cli("org", "set-lifetimes", slug)
    assert nothing.returncode == 2 and "at least one" in nothing.stderr


async def test_client_refresh_reuse_window(cli: Cli, owner_db: Database) -> None:
    slug = f"rw-{uuid.uuid4().hex[:6]}"
    org = ok_json(cli("org", "create", slug, "--json"))
    created = ok_json(cli(*shlex.split(f"{PUBLIC.format(org=slug)} --refresh-reuse-window 5 --json")))
    client_id = created["client_id"]
    [listed] = ok_json(cli("client", "list", "--org", slug, "--json"))
    assert listed["refresh_reuse_window"] == 5
    changed = ok_json(
        cli(
            "client",
            "set-lifetimes",
            "--org",
            slug,
            "--client-id",
            client_id,
            "--refresh-reuse-window",
            "0",
            "--json",
        )
    )
    assert changed["refresh_reuse_window"] == 0 and changed["refresh_token_ttl"] is None
    refused = cli(
        "client", "set-lifetimes", "--org", slug, "--client-id", client_id, "--refresh-reuse-window", "90"
    )
    assert refused.returncode == 2 and "between 0 and 60" in refused.stderr
    assert (await _audit_actions(owner_db, uuid.UUID(org["id"])))[-1] == "client.updated"
