"""``namoid client`` lifetimes and status, ``namoid user disable|enable|delete``: a real process."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, SecurityEvent, User
from tests.features.cli.test_cli import Cli, cli, cli_env, ok_json

__all__ = ["cli", "cli_env"]  # the fixtures, shared with test_cli.py


async def _actions(owner_db: Database, org_id: uuid.UUID) -> list[str]:
    async with owner_db.system() as session:
        query = select(AuditEntry.action).where(AuditEntry.org_id == org_id).order_by(AuditEntry.seq)
        return list(await session.scalars(query))


async def _events(owner_db: Database, org_id: uuid.UUID) -> list[str]:
    async with owner_db.system() as session:
        query = select(SecurityEvent.name).where(SecurityEvent.org_id == org_id)
        return sorted(await session.scalars(query))


async def test_client_lifetimes_and_status(cli: Cli, owner_db: Database) -> None:
    slug = f"cl-{uuid.uuid4().hex[:6]}"
    org_id = uuid.UUID(ok_json(cli("org", "create", slug, "--json"))["id"])
    created = ok_json(
        cli(
            "client", "create", "--org", slug, "--name", "App", "--type", "public",
            "--redirect-uri", "https://app.example/cb", "--grant-type", "authorization_code",
            "--grant-type", "refresh_token", "--refresh-ttl", "7200", "--refresh-idle-ttl", "3600",
            "--offline-on-logout", "end", "--json",
        )
    )  # fmt: skip
    client_id = created["client_id"]
    [listed] = ok_json(cli("client", "list", "--org", slug, "--json"))
    assert (listed["refresh_token_ttl"], listed["refresh_idle_ttl"]) == (7200, 3600)
    assert listed["offline_access_on_logout"] == "end" and listed["status"] == "active"

    changed = ok_json(
        cli(
            "client",
            "set-lifetimes",
            "--org",
            slug,
            "--client-id",
            client_id,
            "--refresh-idle-ttl",
            "1800",
            "--json",
        )
    )
    assert changed == {
        "client_id": client_id,
        "refresh_token_ttl": 7200,
        "refresh_idle_ttl": 1800,
        "refresh_reuse_window": None,  # unset: the default for a public client
    }
    refused = cli(
        "client", "set-lifetimes", "--org", slug, "--client-id", client_id, "--refresh-idle-ttl", "9000"
    )
    assert refused.returncode == 2 and "cannot exceed" in refused.stderr

    assert ok_json(cli("client", "disable", "--org", slug, "--client-id", client_id, "--json")) == {
        "client_id": client_id,
        "status": "disabled",
    }
    again = cli("client", "disable", "--org", slug, "--client-id", client_id)
    assert again.returncode == 2 and "already disabled" in again.stderr
    enabled = cli("client", "enable", "--org", slug, "--client-id", client_id)
    assert enabled.returncode == 0 and "enabled" in enabled.stdout

    actions = await _actions(owner_db, org_id)
    assert actions[-4:] == ["client.created", "client.updated", "client.disabled", "client.enabled"]
    assert await _events(owner_db, org_id) == [
        "client.created",
        "client.disabled",
        "client.enabled",
        "client.updated",
    ]


async def test_user_disable_enable_delete(cli: Cli, owner_db: Database) -> None:
    slug = f"us-{uuid.uuid4().hex[:6]}"
    org_id = uuid.UUID(ok_json(cli("org", "create", slug, "--json"))["id"])
    user_id = ok_json(cli("user", "create", "--org", slug, "--email", "u@example.com", "--json"))["id"]
    who = ("--org", slug, "--email", "U@Example.com")

    disabled = ok_json(cli("user", "disable", *who, "--reason", "suspicious activity", "--json"))
    assert disabled == {"id": user_id, "email": "u@example.com", "status": "disabled"}
    assert [u["status"] for u in ok_json(cli("user", "list", "--org", slug, "--json"))] == ["disabled"]
    assert ok_json(cli("user", "enable", *who, "--json"))["status"] == "active"
    deleted = cli("user", "delete", *who, "--reason", "erasure request")
    assert deleted.returncode == 0 and "deleted u@example.com" in deleted.stdout
    assert ok_json(cli("user", "list", "--org", slug, "--json")) == []
    gone = cli("user", "enable", *who)
    assert gone.returncode == 2 and "no user" in gone.stderr

    async with owner_db.system() as session:
        row = await session.get(User, uuid.UUID(user_id))
    assert row is not None and row.status == "deleted" and row.deletion_reason == "erasure request"
    assert (await _actions(owner_db, org_id))[-3:] == ["user.disabled", "user.enabled", "user.deleted"]
    assert await _events(owner_db, org_id) == ["user.deleted", "user.disabled", "user.enabled"]
