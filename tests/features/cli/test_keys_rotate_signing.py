"""``namoid keys rotate-signing`` as an operator runs it: a real process on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, Organization, SecurityEvent, SigningKey
from tests.features.cli.test_cli import Cli, cli, cli_env, ok_json

__all__ = ["cli", "cli_env"]  # the fixtures, shared with test_cli.py


async def _org_keys(owner_db: Database, slug: str) -> list[tuple[str, str, str]]:
    async with owner_db.system() as session:
        org_id = await session.scalar(select(Organization.id).where(Organization.slug == slug))
        rows = await session.scalars(
            select(SigningKey).where(SigningKey.org_id == org_id).order_by(SigningKey.created_at)
        )
        return [(k.kid, k.alg, k.status) for k in rows]


async def _audited(owner_db: Database, action: str, target: str) -> list[AuditEntry]:
    async with owner_db.system() as session:
        query = select(AuditEntry).where(AuditEntry.action == action, AuditEntry.target_id == target)
        return list(await session.scalars(query))


async def test_rotate_signing_retires_the_old_key(cli: Cli, owner_db: Database) -> None:
    slug = f"rot-{uuid.uuid4().hex[:6]}"
    ok_json(cli("org", "create", slug, "--json"))
    [(old_kid, _, _)] = await _org_keys(owner_db, slug)

    result = ok_json(cli("keys", "rotate-signing", "--org", slug, "--json"))

    assert result == {"org": slug, "alg": "RS256", "kid": result["kid"], "retired": [old_kid], "removed": []}
    assert await _org_keys(owner_db, slug) == [
        (old_kid, "RS256", "retired"),
        (result["kid"], "RS256", "active"),
    ]
    [entry] = await _audited(owner_db, "signing_key.rotated", result["kid"])
    assert entry.actor_type == "admin" and entry.actor_id and entry.actor_id.startswith("cli:")
    async with owner_db.system() as session:
        subjects = await session.scalars(
            select(SecurityEvent.subject).where(
                SecurityEvent.org_id == entry.org_id, SecurityEvent.name == "signing_key.rotated"
            )
        )
        assert list(subjects) == [{"format": "opaque", "id": result["kid"]}]


async def test_rotate_signing_other_algorithm_human_output(cli: Cli, owner_db: Database) -> None:
    slug = f"rot-{uuid.uuid4().hex[:6]}"
    ok_json(cli("org", "create", slug, "--json"))
    result = cli("keys", "rotate-signing", "--org", slug, "--alg", "ES256")
    assert result.returncode == 0, result.stderr
    keys = await _org_keys(owner_db, slug)
    es256 = next(kid for kid, alg, status in keys if alg == "ES256" and status == "active")
    assert f"ES256 key {es256} is active" in result.stdout
    assert [status for _, alg, status in keys if alg == "RS256"] == ["active"]


def test_rotate_signing_bad_input(cli: Cli) -> None:
    for args, message in (
        (("--org", "no-such-org"), "no organization"),
        (("--org", "x", "--alg", "HS256"), "--alg must be one of RS256, PS256, ES256"),
        (("--org", "x", "--alg", "none"), "--alg must be one of"),
    ):
        result = cli("keys", "rotate-signing", *args)
        assert result.returncode == 2, (args, result.stdout)
        assert message in result.stderr and "Traceback" not in result.stderr
