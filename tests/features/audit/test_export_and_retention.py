"""Export (JSON Lines with seals, verifiable offline) and retention that keeps the chain verifiable."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from namoid.audit import retention, sealing
from namoid.audit.export import InvalidCursor, export_lines, page
from namoid.audit.verification import verify_chain, verify_file
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import Organization, utcnow
from namoid.storage.repos.audit_chain import AuditFilter
from namoid.tenancy import organizations
from tests.features.audit.conftest import ADMIN, seqs, tampering, write_entries


def _save(path: Path, lines: list[str]) -> list[dict[str, Any]]:
    path.write_text("".join(lines), encoding="utf-8")
    return [json.loads(line) for line in lines]


async def _export(services: Services, org: Organization, path: Path) -> list[dict[str, Any]]:
    return _save(path, [line async for line in export_lines(services.db, org.id, AuditFilter())])


async def test_export_verifies_offline_and_names_a_tampered_line(
    services: Services, org: Organization, tmp_path: Path
) -> None:
    await write_entries(services, org, 25)
    await sealing.seal_all(services, [org])
    await write_entries(services, org, 2)  # an unsealed tail is exported without seals
    path = tmp_path / "export.jsonl"
    lines = await _export(services, org, path)
    assert [line["seal"] is None for line in lines[-2:]] == [True, True]
    assert all(line["org_id"] == str(org.id) for line in lines)
    verdict = verify_file(path)
    assert verdict.intact and verdict.checked == len(lines) - 2

    edited = list(lines)
    edited[7] = {**edited[7], "detail": {"n": 999}}
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("".join(json.dumps(line) + "\n" for line in edited), encoding="utf-8")
    problem = verify_file(tampered).problem
    assert problem is not None and (problem.kind, problem.seq) == ("altered", lines[7]["seq"])

    dropped = tmp_path / "dropped.jsonl"
    dropped.write_text(
        "".join(json.dumps(line) + "\n" for i, line in enumerate(lines) if i != 4), encoding="utf-8"
    )
    problem = verify_file(dropped).problem
    assert problem is not None and problem.kind == "gap"


async def test_filters_and_cursor_pagination(services: Services, org: Organization) -> None:
    await write_entries(services, org, 9)
    await sealing.seal_all(services, [org])
    wanted = AuditFilter(action="test.happened", actor_type="admin", actor_id="test")
    seen: list[int] = []
    cursor = None
    while True:
        current = await page(services.db, org.id, wanted, cursor, limit=4)
        seen += [item["seq"] for item in current.items]
        if current.next_cursor is None:
            break
        cursor = current.next_cursor
    assert len(seen) == 9 and seen == sorted(seen)
    assert not (await page(services.db, org.id, AuditFilter(since=utcnow() + timedelta(days=1)))).items
    with pytest.raises(InvalidCursor):
        await page(services.db, org.id, wanted, "x:1")


async def test_an_org_exports_only_its_own_log(services: Services, org: Organization, tmp_path: Path) -> None:
    other = await organizations.create(services.db, services.keyring, f"{org.slug}-b", None, ADMIN)
    await write_entries(services, other, 5)
    await sealing.seal_all(services, [org, other])
    lines = await _export(services, org, tmp_path / "mine.jsonl")
    assert lines and {line["org_id"] for line in lines} == {str(org.id)}


async def test_retention_removes_old_entries_and_the_chain_still_verifies(
    services: Services, owner_db: Database, org: Organization, tmp_path: Path
) -> None:
    await write_entries(services, org, 8)
    await sealing.seal_all(services, [org])
    before = await seqs(owner_db, org)
    await retention.set_retention(services.db, org, 30, ADMIN)
    org.audit_retention_days = 30
    pruned = await retention.prune(owner_db, org, now=utcnow() + timedelta(days=31))
    assert pruned is not None and pruned.removed == len(before) and pruned.up_to_seq == before[-1]
    remaining = await seqs(owner_db, org)
    assert remaining and min(remaining) > before[-1]  # only the retention entries themselves remain
    await sealing.seal_all(services, [org])
    verdict = await verify_chain(services.db, org.id)
    assert verdict.intact, verdict.problem
    lines = await _export(services, org, tmp_path / "after.jsonl")
    assert any(line["action"] == "audit.retention_pruned" for line in lines)
    assert verify_file(tmp_path / "after.jsonl").intact


async def test_rows_outside_a_retention_run_still_cannot_be_deleted(
    services: Services, owner_db: Database, org: Organization
) -> None:
    await write_entries(services, org, 3)
    await sealing.seal_all(services, [org])
    newest = (await seqs(owner_db, org))[-1]
    with pytest.raises(Exception, match="append-only"):
        async with owner_db.system() as session:
            await session.execute(text(f"DELETE FROM audit_log WHERE seq = {newest}"))


async def test_deleting_without_a_retention_run_is_reported(
    services: Services, owner_db: Database, org: Organization
) -> None:
    await write_entries(services, org, 3)
    await sealing.seal_all(services, [org])
    oldest = (await seqs(owner_db, org))[0]
    async with tampering(owner_db) as session:
        await session.execute(text(f"DELETE FROM audit_log WHERE seq = {oldest}"))
    verdict = await verify_chain(services.db, org.id)
    assert verdict.problem is not None and verdict.problem.kind == "missing"


def test_retention_bounds() -> None:
    assert retention.validate_days(400) == 400
    for days in (0, 29, 3651):
        with pytest.raises(ValueError, match="days"):
            retention.validate_days(days)
