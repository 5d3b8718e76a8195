"""Signing up with the email of a deleted account: refused like any taken address until the purge
frees it, then a new account (issue 13). Never a 500."""

from __future__ import annotations

from datetime import timedelta

from namoid import audit
from namoid.privacy import erasure, purge
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.storage.repos import users
from tests.features.otpflows.conftest import NEW_PASSWORD, CodeFlow, code_in, delivered, set_policy

ADMIN = audit.Actor("admin", "test")


async def test_the_address_is_free_again_only_after_the_purge(
    code_flow: CodeFlow, services: Services, org: Organization
) -> None:
    await set_policy(services, org, methods=("password", "email_otp"), registration="open")
    old = code_flow.flow.user
    await erasure.delete_account(services, org.id, old.id, ADMIN)

    entry = await code_flow.ask("sign_up", "email", old.email)  # the same form, no code sent
    assert entry.status_code == 200 and await delivered(services, org, old.email) == []
    refused = await code_flow.enter(entry, "123456", password=NEW_PASSWORD)
    assert refused.status_code == 400

    assert await purge.purge_org(services, org, utcnow() + timedelta(days=31)) == 1
    entry = await code_flow.ask("sign_up", "email", old.email)
    [message] = await delivered(services, org, old.email)
    done = await code_flow.enter(entry, code_in(message), password=NEW_PASSWORD)
    assert done.status_code == 303, done.text
    async with services.db.tenant(org.id) as session:
        new = await users.get_by_email(session, org.id, old.email)
    assert new is not None and new.id != old.id
