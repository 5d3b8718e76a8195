"""Deleting an account: everything ends at once, the purge comes after the grace, a tombstone stays.

Issue 13 item 5: soft delete (sign-in refused, tokens dead, RPs told ``account-disabled``),
the purge after the org's grace period (time moved forward: nothing before, everything after;
``account-purged`` to RPs), a walk of every table of the database for the user's email, phone
and name, a tombstone with nothing readable, the deletion certificate, idempotence, tenants.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from namoid import audit
from namoid.accounts import users
from namoid.privacy import erasure, purge
from namoid.privacy.sections import SECTIONS
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, Organization, Tombstone, User, utcnow
from namoid.storage.repos import tombstones
from namoid.tenancy import organizations
from tests.features.authorize.conftest import Flow, query
from tests.features.conftest import ADMIN, MakeUser, RegisteredClient
from tests.features.erasure.conftest import (
    RISC,
    Person,
    deliver,
    new_person,
    personal_data_left,
    received_events,
    subscribe,
)
from tests.features.revocation.conftest import browser_tokens, introspect, refresh, userinfo_status
from tests.features.token.conftest import audit_rows
from tests.receiver import Receiver

HEX64 = re.compile(r"^[0-9a-f]{64}$")


async def _user_row(services: Services, org: Organization, user_id: uuid.UUID) -> User | None:
    async with services.db.tenant(org.id) as session:
        return await session.get(User, user_id, populate_existing=True)


async def _tombstones(services: Services, org: Organization) -> list[Tombstone]:
    async with services.db.tenant(org.id) as session:
        return list(await tombstones.list_for_org(session, org.id))


async def test_delete_then_purge_after_the_grace_period(
    erasure_flow: Flow,
    inspector: RegisteredClient,
    rx: Receiver,
    person: Person,
    owner_db: Database,
) -> None:
    flow, services, org = erasure_flow, erasure_flow.services, erasure_flow.org
    await subscribe(services, org, rx)
    await erasure.set_grace(services.db, org.slug, 7, ADMIN)
    tokens = await browser_tokens(flow, flow.rp, "openid profile email phone offline_access")
    assert (await introspect(flow.http, org, inspector, tokens["access_token"]))["active"] is True

    deleted = await erasure.delete_account(services, org.id, person.email, ADMIN, "erasure request")

    # At once: tokens dead, no session, sign-in refused, RPs told account-disabled.
    assert deleted.purge_at - deleted.user.deleted_at == timedelta(days=7)  # type: ignore[operator]
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert await introspect(flow.http, org, inspector, token) == {"active": False}
    assert await userinfo_status(flow.http, org, tokens["access_token"]) == 401
    assert (await refresh(flow.http, org, flow.rp, tokens["refresh_token"])).json()[
        "error"
    ] == "invalid_grant"
    assert await flow.signed_in_sessions() == 0
    flow.http.cookies.clear()
    refused = await flow.login(await flow.follow(await flow.authorize()))
    assert refused.status_code == 200 and "do not match an account" in refused.text
    await deliver(services, org)
    assert received_events(rx) == [(RISC + "account-disabled", str(flow.user.id))]

    # Within the grace period nothing is purged.
    now = utcnow()
    assert await purge.purge_org(services, org, now + timedelta(days=6, hours=23)) == 0
    row = await _user_row(services, org, flow.user.id)
    assert row is not None and row.status == "deleted" and row.email == person.email
    assert await _tombstones(services, org) == []
    # The walk below can fail: now it finds the person in the users row.
    assert {"users.email", "users.name", "users.phone"} <= set(await personal_data_left(owner_db, person))

    # After it, the purge; a second pass (or a second worker) finds nothing to do.
    purged_at = now + timedelta(days=7, minutes=1)
    assert await purge.purge_org(services, org, purged_at) == 1
    assert await purge.purge_org(services, org, purged_at + timedelta(days=1)) == 0
    assert await _user_row(services, org, flow.user.id) is None
    await deliver(services, org)
    assert received_events(rx)[1:] == [(RISC + "account-purged", str(flow.user.id))]

    # Only the tombstone is left: no email, phone or name anywhere in the whole database.
    assert await personal_data_left(owner_db, person) == []
    [tombstone] = await _tombstones(services, org)
    pepper = services.keyring.pepper
    assert tombstone.subject_mac == purge.identifier_mac(pepper, org.id, "user_id", str(flow.user.id))
    assert tombstone.email_mac == purge.identifier_mac(pepper, org.id, "email", person.email)
    assert tombstone.phone_mac == purge.identifier_mac(pepper, org.id, "phone", person.phone)
    assert all(
        HEX64.match(mac or "") for mac in (tombstone.subject_mac, tombstone.email_mac, tombstone.phone_mac)
    )
    assert (tombstone.deleted_at, tombstone.purged_at) == (deleted.user.deleted_at, purged_at)
    assert tombstone.account_created_at == flow.user.created_at
    kept = {entry["data"]: entry["basis"] for entry in tombstone.legal_basis}
    assert set(kept) == {"audit_events", "security_events", "consent_records"}
    assert "DPDP" in kept["audit_events"] and "s.6(10)" in kept["consent_records"]

    # The deletion certificate.
    [certificate] = await audit_rows(services, org, "user.deletion_certified")
    assert (certificate.target_id, certificate.actor_id) == (str(flow.user.id), audit.WORKER.id)
    assert certificate.detail["tombstone_id"] == str(tombstone.id)
    assert set(certificate.detail["erased"]) == {
        s.name for s in SECTIONS if s.erasure is not None and s.erasure.action != "retain"
    }
    assert certificate.detail["kept"] == tombstone.legal_basis

    # The address is free again: a new account, unrelated to the purged one.
    again = await users.create(
        services.db, org.id, email=person.email, password=None, phone=None, name=None, actor=ADMIN
    )
    assert again.id != flow.user.id


async def test_audit_rows_keep_the_opaque_id(erasure_flow: Flow, person: Person) -> None:
    flow, services, org = erasure_flow, erasure_flow.services, erasure_flow.org
    await erasure.set_grace(services.db, org.slug, 0, ADMIN)
    await browser_tokens(flow, flow.rp, "openid offline_access")
    await erasure.delete_account(services, org.id, person.email, ADMIN)
    assert await purge.purge_org(services, org, utcnow() + timedelta(seconds=1)) == 1
    async with services.db.tenant(org.id) as session:
        entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.org_id == org.id)))
    about = [e for e in entries if str(flow.user.id) in (e.actor_id, e.target_id)]
    actions = {e.action for e in about}
    assert {
        "user.created",
        "login.succeeded",
        "user.deleted",
        "user.purged",
        "user.deletion_certified",
    } <= actions


async def test_grace_bounds_are_refused_and_change_nothing(services: Services, org: Organization) -> None:
    for days in (-1, 366):
        with pytest.raises(ValueError, match="0-365 days"):
            await erasure.set_grace(services.db, org.slug, days, ADMIN)
    assert (await organizations.require(services.db, org.slug)).erasure_grace_days == 30
    changed = await erasure.set_grace(services.db, org.slug, 0, ADMIN)
    assert changed.erasure_grace_days == 0
    [entry] = await audit_rows(services, org, "org.erasure_grace_set")
    assert entry.detail == {"days": 0, "was": 30}
    with pytest.raises(LookupError):
        await erasure.set_grace(services.db, "no-such-org", 3, ADMIN)


async def test_deleting_twice_or_someone_unknown_is_refused(
    services: Services, org: Organization, subject: User, person: Person
) -> None:
    await erasure.delete_account(services, org.id, subject.id, ADMIN)
    with pytest.raises(LookupError):
        await erasure.delete_account(services, org.id, subject.id, ADMIN)
    with pytest.raises(LookupError):
        await erasure.delete_account(services, org.id, person.email, ADMIN)
    with pytest.raises(LookupError):
        await erasure.delete_account(services, org.id, uuid.uuid4(), ADMIN)


async def test_purge_stays_in_its_tenant(services: Services, org: Organization, make_user: MakeUser) -> None:
    other = await organizations.create(
        services.db, services.keyring, f"org-{uuid.uuid4().hex[:8]}", "B", ADMIN
    )
    person = new_person()
    here = await make_user(email=person.email, phone=person.phone, name=person.name)
    there = await make_user(other, email=person.email, phone=person.phone, name=person.name)
    await erasure.set_grace(services.db, org.slug, 0, ADMIN)
    await erasure.delete_account(services, org.id, here.id, ADMIN)
    await erasure.delete_account(services, other.id, there.id, ADMIN)  # grace 30 days there
    later = utcnow() + timedelta(days=1)
    assert await purge.purge_org(services, org, later) == 1
    assert await purge.purge_org(services, other, later) == 0
    assert await _user_row(services, other, there.id) is not None
    # A purge of one org never reaches the other: its user is not due there, nor visible here.
    assert await purge.purge_user(services, org.id, there.id, later + timedelta(days=60)) is None
    assert await _user_row(services, other, there.id) is not None
    [mine] = await _tombstones(services, org)
    assert await _tombstones(services, other) == []
    assert mine.email_mac != purge.identifier_mac(services.keyring.pepper, other.id, "email", person.email)


async def test_a_sign_in_after_the_delete_gets_no_code(erasure_flow: Flow, person: Person) -> None:
    """A browser that signed in before the delete, coming back for a code after it, gets none."""
    flow, services, org = erasure_flow, erasure_flow.services, erasure_flow.org
    assert "code" in await flow.sign_in_and_allow()
    await erasure.delete_account(services, org.id, person.email, ADMIN)
    answer = await flow.authorize(prompt="none")
    assert query(answer.headers["location"])["error"] == "login_required"
