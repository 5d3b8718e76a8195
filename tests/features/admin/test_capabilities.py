"""The admin API's password reset, grievances, upstream providers and test-mode inbox, over the
services ``namoid grievances``, ``namoid providers list`` and ``namoid org inbox`` use (issue 16)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from namoid.privacy import grievances
from namoid.providers import registry
from namoid.services import Services
from namoid.storage.models import Organization, SecurityEvent, User, utcnow
from namoid.tenancy import organizations
from tests.features.admin.conftest import API, admin_client, admin_token, bearer
from tests.features.conftest import ADMIN, MakeClient, MakeUser


async def test_a_password_reset_removes_the_password_and_ends_everything(
    admin_http: httpx.AsyncClient, services: Services, token: str, org: Organization, make_user: MakeUser
) -> None:
    user = await make_user()
    auth = bearer(token)
    reset = await admin_http.post(f"{API}/users/{user.id}/password/reset", headers=auth)
    assert reset.status_code == 200, reset.text
    async with services.db.tenant(org.id) as session:
        stored = await session.get(User, user.id)
        assert stored is not None and stored.password_hash is None
        [event] = (
            await session.scalars(
                select(SecurityEvent).where(
                    SecurityEvent.org_id == org.id, SecurityEvent.name == "password.reset"
                )
            )
        ).all()
    assert event.payload["method"] == "admin" and "families" in event.payload
    disabled = await admin_http.post(f"{API}/users/{user.id}/disable", headers=auth)
    assert disabled.status_code == 200
    again = await admin_http.post(f"{API}/users/{user.id}/password/reset", headers=auth)
    assert again.status_code == 409 and "disabled" in again.json()["detail"]
    missing = await admin_http.post(f"{API}/users/{uuid.uuid4()}/password/reset", headers=auth)
    assert missing.status_code == 404


async def test_grievances_are_answered_once_and_the_answer_lands_in_the_test_inbox(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    make_client: MakeClient,
    make_user: MakeUser,
) -> None:
    test_org = await organizations.create(
        services.db, services.keyring, f"sandbox-{uuid.uuid4().hex[:6]}", "Sandbox", ADMIN, test_mode=True
    )
    auth = bearer(await admin_token(http, services, await admin_client(services, make_client, test_org)))
    user = await make_user(test_org)
    async with services.db.tenant(test_org.id) as session:
        ticket = await grievances.raise_ticket(
            session,
            test_org,
            user,
            category="access",
            subject="My data",
            text="What?",
            locale="en",
            now=utcnow(),
        )
    listed = await admin_http.get(f"{API}/grievances", headers=auth, params={"status": "open"})
    assert listed.status_code == 200, listed.text
    assert [t["id"] for t in listed.json()["items"]] == [str(ticket.id)]
    assert (
        await admin_http.get(f"{API}/grievances", headers=auth, params={"status": "shut"})
    ).status_code == 422
    assert (await admin_http.get(f"{API}/inbox", headers=auth)).json()["items"] == []

    path = f"{API}/grievances/{ticket.id}/response"
    for bad in ({"text": ""}, {"text": "x", "reject": "yes"}, {"text": "x", "cc": "a@b.c"}):
        assert (await admin_http.post(path, headers=auth, json=bad)).status_code == 422, bad
    answered = await admin_http.post(path, headers=auth, json={"text": "We hold your email only."})
    assert answered.status_code == 200, answered.text
    assert (
        answered.json()["status"] == "answered" and answered.json()["response"] == "We hold your email only."
    )
    twice = await admin_http.post(path, headers=auth, json={"text": "Again.", "reject": True})
    assert twice.status_code == 409 and "already answered" in twice.json()["detail"]
    unknown = await admin_http.post(
        f"{API}/grievances/{uuid.uuid4()}/response", headers=auth, json={"text": "x"}
    )
    assert unknown.status_code == 404
    assert (await admin_http.get(f"{API}/grievances", headers=auth, params={"status": "open"})).json()[
        "items"
    ] == []

    [mail] = (await admin_http.get(f"{API}/inbox", headers=auth)).json()["items"]
    assert mail["kind"] == "email" and mail["to"] == user.email and "We hold your email only." in mail["text"]


async def test_providers_are_listed_without_their_secrets(
    admin_http: httpx.AsyncClient, services: Services, token: str, org: Organization
) -> None:
    secret = "upstream-" + uuid.uuid4().hex  # pragma: allowlist secret
    spec = registry.ProviderSpec(
        name="corp", preset="oidc", issuer="https://idp.example", client_id="abc", client_secret=secret
    )
    await registry.add(services.db, services.keyring, org.id, spec, ADMIN)
    listed = await admin_http.get(f"{API}/providers", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    [provider] = listed.json()["items"]
    assert provider["name"] == "corp" and provider["client_id"] == "abc"
    assert provider["redirect_uri"].startswith(services.settings.base_url + f"/o/{org.slug}/")
    assert secret not in listed.text
