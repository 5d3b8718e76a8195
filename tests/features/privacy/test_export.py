"""The data export (issue 13): every section, the published schema, no secret, nobody else's data;
a worker-produced document behind a single-use, short-lived link (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from namoid import audit
from namoid.crypto.keyring import Keyring, KeyringError, activate_key, add_key, retire_key
from namoid.privacy import export, export_jobs
from namoid.privacy.export_jobs import ExportRefused
from namoid.privacy.registry import DataPrincipal
from namoid.privacy.sections import SECTIONS
from namoid.reencryption import count_under_key, reencrypt_all
from namoid.services import Services
from namoid.storage.models import AuditEntry, DataExport, Organization, UpstreamProvider, User, utcnow
from namoid.tenancy import organizations
from namoid.worker import Worker
from tests import kyc_fixtures as fx
from tests.audit_scan import PASSWORDS, findings
from tests.conftest import ISOLATED
from tests.features.conftest import ADMIN, PASSWORD, MakeClient, MakeUser
from tests.features.privacy.conftest import Connect, Principal, full_user
from tests.json_schema_subset import errors


async def _produced(services: Services, org: Organization, user: User) -> DataExport:
    row = await export_jobs.request(services.db, org.id, user.id, audit.Actor("user", str(user.id)))
    assert row.status == "pending"
    report = await export_jobs.produce_pending(services.db, services.keyring, org, utcnow())
    assert report == {"produced": 1, "failed": 0}
    return await _row(services, org, row.id)


async def _row(services: Services, org: Organization, export_id: uuid.UUID) -> DataExport:
    async with services.db.tenant(org.id) as session:
        row = await session.get(DataExport, export_id)
        assert row is not None
        return row


async def _actions(services: Services, org: Organization, prefix: str = "privacy.") -> list[tuple[str, str]]:
    async with services.db.tenant(org.id) as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.org_id == org.id, AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.seq)
        )  # fmt: skip
        return [(row.action, row.outcome) for row in rows]


async def test_the_export_holds_every_section_validates_and_holds_no_secret(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
    provider: UpstreamProvider,
    connect: Connect,
    principal: Principal,
) -> None:
    # Others with data of their own: a user of the same org (in a browser of their own) and a
    # user of another org.
    http.cookies.clear()
    neighbour = await full_user(http, services, org, make_client, make_user, provider, connect)
    slug = f"o-{uuid.uuid4().hex[:8]}"
    elsewhere = await organizations.create(services.db, services.keyring, slug, "B", ADMIN)
    stranger = await make_user(elsewhere)
    await _produced(services, elsewhere, stranger)

    user = principal.user
    row = await _produced(services, org, user)
    assert row.payload_enc is not None and user.email.encode() not in row.payload_enc.encode()
    link = await export_jobs.issue_link(services.db, org.id, user.id)
    body = await export_jobs.download(services.db, services.keyring, org.id, link.token, user_id=user.id)
    text = body.decode()
    document = json.loads(text)

    assert errors(document, json.loads(export.SCHEMA_FILE.read_text())) == []
    assert (document["format"], document["version"]) == ("namoid-export", 1)
    assert document["org"]["slug"] == org.slug and document["subject"] == {"user_id": str(user.id)}
    sections = document["sections"]
    assert sections["account"]["contacts"][0] == {"type": "email", "value": user.email, "verified": False}
    assert sections["account"]["profile"]["name"] == user.name
    assert {"method": "password", "available": True} in sections["account"]["sign_in_methods"]
    assert [s["ended_at"] for s in sections["sessions"]] == [None]
    apps = sections["applications"]
    assert [c["client_id"] for c in apps["consents"]] == [principal.flow.rp.client_id]
    assert apps["consents"][0]["client_name"] == "Test App"
    assert len(apps["refresh_grants"]) == 1 and len(apps["access_tokens"]) == 1
    assert [c["ended_at"] is not None for c in apps["authorization_codes"]] == [True]
    [connection] = sections["connected_providers"]["connections"]
    assert connection["upstream_subject"] == principal.connection.subject
    assert connection["provider"] == "upstream"
    assert connection["tokens_held"] == {
        "scopes": ["openid", "email"], "expires_at": None, "refresh_token_held": True,
    }  # fmt: skip
    ledger = sections["consent_records"]
    assert (ledger[0]["kind"], ledger[0]["event"], ledger[0]["counterparty"]) == (
        "provider_connection", "granted", "upstream",
    )  # fmt: skip
    assert all(r["notice_version"] for r in ledger)
    kyc = sections["identity_verification"]
    assert (kyc["aadhaar_last4"], kyc["result"]) == (fx.LAST4, "valid")
    actions = [e["action"] for e in sections["audit_events"]]
    assert {"user.created", "token.issued", "provider.connected", "kyc.verified"} <= set(actions)
    assert "privacy.export_requested" in actions
    assert [e["status"] for e in sections["data_exports"]] == ["pending"]  # as it was when produced

    # No secret: nothing the audit scan looks for, no token of either side, no hash, no link.
    assert findings([(text,)]) == []
    for secret in (*principal.secrets, *PASSWORDS, PASSWORD, link.token):
        assert secret not in text
    for marker in ("$argon2", "hmac-sha256$", "token_hash", "code_hash", "secret", "_enc"):
        assert marker not in text
    # Nobody else's data.
    for other in (neighbour.user, stranger):
        assert str(other.id) not in text and other.email not in text
    assert neighbour.connection.subject not in text


async def test_the_document_is_bound_to_its_row_and_user(
    services: Services, org: Organization, principal: Principal, make_user: MakeUser
) -> None:
    """The stored envelope opens only with its own org, user and row (DESIGN.md §4)."""
    row = await _produced(services, org, principal.user)
    assert row.payload_enc is not None
    other = await make_user()
    for user_id, export_id in ((other.id, row.id), (principal.user.id, uuid.uuid4())):
        wrong = export_jobs._aad(org.id, user_id, export_id)
        with pytest.raises(KeyringError):
            services.keyring.decrypt(row.payload_enc, wrong)


async def test_the_link_works_once_and_briefly_then_the_document_is_gone(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    user, other = await make_user(), await make_user()
    row = await _produced(services, org, user)
    now = utcnow()
    with pytest.raises(ExportRefused) as refused:  # nobody else's session may use it
        await export_jobs.issue_link(services.db, org.id, other.id)
    assert refused.value.reason == "not_ready"

    # Expired: refused, and nothing changes (a new link still works).
    stale = await export_jobs.issue_link(services.db, org.id, user.id, now)
    later = now + export_jobs.LINK_TTL + timedelta(seconds=1)
    with pytest.raises(ExportRefused) as refused:
        await export_jobs.download(services.db, services.keyring, org.id, stale.token, now=later)
    assert refused.value.reason == "link_expired"
    assert (await _row(services, org, row.id)).payload_enc == row.payload_enc

    link = await export_jobs.issue_link(services.db, org.id, user.id, later)
    with pytest.raises(ExportRefused) as refused:  # the earlier link is replaced
        await export_jobs.download(services.db, services.keyring, org.id, stale.token, now=later)
    assert refused.value.reason == "link_unknown"
    with pytest.raises(ExportRefused) as refused:  # another signed-in user cannot use it
        await export_jobs.download(
            services.db, services.keyring, org.id, link.token, user_id=other.id, now=later
        )
    assert refused.value.reason == "link_unknown"
    body = await export_jobs.download(
        services.db, services.keyring, org.id, link.token, user_id=user.id, now=later
    )
    assert json.loads(body)["subject"] == {"user_id": str(user.id)}
    done = await _row(services, org, row.id)
    assert (done.status, done.payload_enc, done.active_user_id) == ("downloaded", None, None)

    with pytest.raises(ExportRefused) as refused:  # used: refused, nothing changes
        await export_jobs.download(services.db, services.keyring, org.id, link.token, now=later)
    assert refused.value.reason == "link_used"
    again = await _row(services, org, row.id)
    assert (again.status, again.downloaded_at) == ("downloaded", done.downloaded_at)
    assert await _actions(services, org) == [
        ("privacy.export_requested", "success"),
        ("privacy.export_produced", "success"),
        ("privacy.export_link_issued", "success"),
        ("privacy.export_download_refused", "denied"),
        ("privacy.export_link_issued", "success"),
        ("privacy.export_download_refused", "denied"),
        ("privacy.export_download_refused", "denied"),
        ("privacy.export_downloaded", "success"),
        ("privacy.export_download_refused", "denied"),
    ]


async def test_a_document_nobody_fetched_is_destroyed_by_the_sweep(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    user = await make_user()
    row = await _produced(services, org, user)
    link = await export_jobs.issue_link(services.db, org.id, user.id)
    worker = Worker(services)
    try:
        await worker.sweep_expired(utcnow() + timedelta(hours=1))
        assert (await _row(services, org, row.id)).payload_enc is not None  # not yet
        await worker.sweep_expired(utcnow() + export_jobs.DOCUMENT_TTL + timedelta(minutes=1))
    finally:
        await worker.close()
    gone = await _row(services, org, row.id)
    assert (gone.status, gone.payload_enc, gone.active_user_id) == ("expired", None, None)
    with pytest.raises(ExportRefused) as refused:
        await export_jobs.download(services.db, services.keyring, org.id, link.token)
    assert refused.value.reason == "link_expired"
    with pytest.raises(ExportRefused):
        await export_jobs.issue_link(services.db, org.id, user.id)
    await _produced(services, org, user)  # and a new export may be asked for


async def test_a_second_export_while_one_runs_is_refused(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    user = await make_user()
    actor = audit.Actor("user", str(user.id))
    results = await asyncio.gather(
        *(export_jobs.request(services.db, org.id, user.id, actor) for _ in range(3)), return_exceptions=True
    )
    refusals = [r for r in results if isinstance(r, ExportRefused)]
    assert len(refusals) == 2 and {r.reason for r in refusals} == {"running"}
    with pytest.raises(ExportRefused) as refused:
        await export_jobs.request(services.db, org.id, user.id, actor)
    assert refused.value.reason == "running"
    worker = Worker(services)
    try:
        assert (await worker.produce_exports(None))["produced"] >= 1  # the worker job produces it
    finally:
        await worker.close()
    with pytest.raises(ExportRefused) as refused:
        await export_jobs.request(services.db, org.id, user.id, actor)
    assert refused.value.reason == "ready"
    async with services.db.tenant(org.id) as session:
        rows = (await session.scalars(select(DataExport).where(DataExport.user_id == user.id))).all()
    assert [r.status for r in rows] == ["ready"]
    assert await _actions(services, org) == [
        ("privacy.export_requested", "success"),
        ("privacy.export_produced", "success"),
    ]


async def test_the_schema_is_current_and_published(http: httpx.AsyncClient) -> None:
    assert export.SCHEMA_FILE.read_text() == export.schema_text(), (
        "the export's sections changed: run `python -m namoid.privacy.export` and commit the schema"
    )
    response = await http.get(export.SCHEMA_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/schema+json"
    assert response.json() == export.schema()


@ISOLATED
async def test_key_rotation_keeps_a_waiting_document_readable(
    services: Services, org: Organization, make_user: MakeUser, keyring_file: Path
) -> None:
    user = await make_user()
    row = await _produced(services, org, user)
    old_key = services.keyring.active_key_id
    activate_key(keyring_file, add_key(keyring_file))
    rotated = Keyring.load(keyring_file)
    await reencrypt_all(services.db, rotated, ADMIN)
    assert await count_under_key(services.db, old_key) == 0
    retire_key(keyring_file, old_key)
    retired = Keyring.load(keyring_file)
    link = await export_jobs.issue_link(services.db, org.id, user.id)
    body = await export_jobs.download(services.db, retired, org.id, link.token)
    assert json.loads(body)["subject"] == {"user_id": str(user.id)}
    assert row.payload_enc is not None and Keyring.key_id_of(row.payload_enc) == old_key


async def test_an_export_that_cannot_be_built_fails_after_its_attempts(
    services: Services, org: Organization, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken section leaves the job pending for another pass, then fails it (audited), and the
    user may ask again."""
    user = await make_user()
    row = await export_jobs.request(services.db, org.id, user.id, audit.Actor("user", str(user.id)))

    async def broken(*_: object, **__: object) -> dict[str, object]:
        raise RuntimeError("a section failed")

    monkeypatch.setattr(export, "build", broken)
    for attempt in range(1, export_jobs.MAX_ATTEMPTS + 1):
        report = await export_jobs.produce_pending(services.db, services.keyring, org, utcnow())
        assert report == {"produced": 0, "failed": 1}
        current = await _row(services, org, row.id)
        assert current.attempts == attempt and current.payload_enc is None
        assert current.status == ("failed" if attempt == export_jobs.MAX_ATTEMPTS else "pending")
    assert (current.status, current.active_user_id) == ("failed", None)
    assert await export_jobs.produce_pending(services.db, services.keyring, org, utcnow()) == {
        "produced": 0, "failed": 0,
    }  # fmt: skip
    assert ("privacy.export_failed", "failure") in await _actions(services, org)
    monkeypatch.undo()
    await _produced(services, org, user)


async def test_the_purge_erases_every_export_of_the_user(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    user, other = await make_user(), await make_user()
    await _produced(services, org, user)
    kept = await _produced(services, org, other)
    [erasure] = [s.erasure for s in SECTIONS if s.name == "data_exports"]
    assert erasure is not None and erasure.action == "delete" and erasure.run is not None
    async with services.db.tenant(org.id) as session:
        await erasure.run(session, DataPrincipal(org.id, user.id, utcnow()))
    async with services.db.tenant(org.id) as session:
        left = (await session.scalars(select(DataExport).where(DataExport.org_id == org.id))).all()
    assert [row.id for row in left] == [kept.id]


async def test_no_document_is_made_for_an_account_deleted_meanwhile(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    user = await make_user()
    row = await export_jobs.request(services.db, org.id, user.id, audit.Actor("user", str(user.id)))
    async with services.db.tenant(org.id) as session:
        await session.execute(
            update(User).where(User.org_id == org.id, User.id == user.id).values(deleted_at=utcnow())
        )
    report = await export_jobs.produce_pending(services.db, services.keyring, org, utcnow())
    assert report == {"produced": 0, "failed": 0}
    ended = await _row(services, org, row.id)
    assert (ended.status, ended.payload_enc, ended.active_user_id) == ("failed", None, None)
    assert ("privacy.export_failed", "failure") in await _actions(services, org)
    with pytest.raises(ExportRefused) as refused:
        await export_jobs.request(services.db, org.id, user.id, audit.Actor("user", str(user.id)))
    assert refused.value.reason == "no_account"


async def test_a_document_moved_to_another_row_is_refused_and_discarded(
    services: Services, org: Organization, make_user: MakeUser
) -> None:
    """Swapping two users' stored documents (a database write) hands neither to the other."""
    user, other = await make_user(), await make_user()
    mine, theirs = await _produced(services, org, user), await _produced(services, org, other)
    async with services.db.tenant(org.id) as session:
        await session.execute(
            update(DataExport).where(DataExport.id == mine.id).values(payload_enc=theirs.payload_enc)
        )
    link = await export_jobs.issue_link(services.db, org.id, user.id)
    with pytest.raises(ExportRefused) as refused:
        await export_jobs.download(services.db, services.keyring, org.id, link.token, user_id=user.id)
    assert refused.value.reason == "unreadable"
    gone = await _row(services, org, mine.id)
    assert (gone.status, gone.payload_enc, gone.active_user_id) == ("failed", None, None)
    assert ("privacy.export_download_refused", "denied") in await _actions(services, org)
    await _produced(services, org, user)  # a new export may be asked for at once
