"""Org A's admin can reach nothing of org B, and every admin route that changes state audits it.

Every route of the admin app must appear in ``ROUTES`` (a new route fails here until it does).
With a token of org A holding every admin scope, each route is tried with org B's ids: the
answer is 404 (or, for listings, only org A's rows), and org B's data and audit log stay as
they were. Then each route runs for real in org A between two fingerprints: a change must come
with an audit entry of that very request, with the admin as actor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from namoid.admin.app import create_admin_app
from namoid.events import webhooks
from namoid.outbound import policy_for
from namoid.privacy import grievances
from namoid.providers import registry
from namoid.services import Services
from namoid.signing_rotation import list_signing_keys
from namoid.storage.db import Database
from namoid.storage.models import AuditEntry, Organization, utcnow
from tests.features.admin.conftest import API, HOOK_URL, AdminClient, bearer
from tests.features.audit.fingerprint import changed, fingerprint
from tests.features.conftest import ADMIN, MakeClient, MakeUser


@dataclass(frozen=True)
class Ids:
    client_id: str
    user_id: uuid.UUID
    webhook_id: uuid.UUID
    kids: tuple[str, ...]
    grievance_id: uuid.UUID
    provider_client_id: str


Call = Callable[[httpx.AsyncClient, dict[str, str], Ids], object]

PROVIDER = registry.ProviderSpec(
    name="corp",
    preset="oidc",
    issuer="https://idp.example",
    client_id="upstream-client-of-" + uuid.uuid4().hex,
    client_secret="upstream-secret-value",  # pragma: allowlist secret
)

#: (method, path template) → the request, given the ids to aim at.
ROUTES: dict[tuple[str, str], Callable[..., object]] = {
    ("GET", "/clients"): lambda h, a, i: h.get(f"{API}/clients", headers=a),
    ("POST", "/clients"): lambda h, a, i: h.post(
        f"{API}/clients",
        headers=a,
        json={"name": "Made", "type": "public", "redirect_uris": ["https://m.example/cb"]},
    ),
    ("GET", "/clients/{client_id}"): lambda h, a, i: h.get(f"{API}/clients/{i.client_id}", headers=a),
    ("PATCH", "/clients/{client_id}"): lambda h, a, i: h.patch(
        f"{API}/clients/{i.client_id}", headers=a, json={"refresh_reuse_window": 5}
    ),
    ("POST", "/clients/{client_id}/secret"): lambda h, a, i: h.post(
        f"{API}/clients/{i.client_id}/secret", headers=a
    ),
    ("POST", "/clients/{client_id}/disable"): lambda h, a, i: h.post(
        f"{API}/clients/{i.client_id}/disable", headers=a
    ),
    ("POST", "/clients/{client_id}/enable"): lambda h, a, i: h.post(
        f"{API}/clients/{i.client_id}/enable", headers=a
    ),
    ("GET", "/users"): lambda h, a, i: h.get(f"{API}/users", headers=a),
    ("POST", "/users"): lambda h, a, i: h.post(
        f"{API}/users", headers=a, json={"email": f"new-{uuid.uuid4().hex[:6]}@example.com"}
    ),
    ("GET", "/users/{user_id}"): lambda h, a, i: h.get(f"{API}/users/{i.user_id}", headers=a),
    ("POST", "/users/{user_id}/disable"): lambda h, a, i: h.post(
        f"{API}/users/{i.user_id}/disable", headers=a
    ),
    ("POST", "/users/{user_id}/enable"): lambda h, a, i: h.post(f"{API}/users/{i.user_id}/enable", headers=a),
    ("POST", "/users/{user_id}/password/reset"): lambda h, a, i: h.post(
        f"{API}/users/{i.user_id}/password/reset", headers=a
    ),
    ("POST", "/users/{user_id}/sessions/revoke"): lambda h, a, i: h.post(
        f"{API}/users/{i.user_id}/sessions/revoke", headers=a
    ),
    ("DELETE", "/users/{user_id}"): lambda h, a, i: h.delete(f"{API}/users/{i.user_id}", headers=a),
    ("GET", "/audit"): lambda h, a, i: h.get(f"{API}/audit", headers=a),
    ("GET", "/keys"): lambda h, a, i: h.get(f"{API}/keys", headers=a),
    ("POST", "/keys/rotate"): lambda h, a, i: h.post(f"{API}/keys/rotate", headers=a, json={"alg": "ES256"}),
    ("GET", "/webhooks"): lambda h, a, i: h.get(f"{API}/webhooks", headers=a),
    ("POST", "/webhooks"): lambda h, a, i: h.post(f"{API}/webhooks", headers=a, json={"url": HOOK_URL}),
    ("DELETE", "/webhooks/{webhook_id}"): lambda h, a, i: h.delete(
        f"{API}/webhooks/{i.webhook_id}", headers=a
    ),
    ("GET", "/security-events"): lambda h, a, i: h.get(f"{API}/security-events", headers=a),
    ("GET", "/audit/export"): lambda h, a, i: h.get(f"{API}/audit/export", headers=a),
    ("GET", "/grievances"): lambda h, a, i: h.get(f"{API}/grievances", headers=a),
    ("POST", "/grievances/{grievance_id}/response"): lambda h, a, i: h.post(
        f"{API}/grievances/{i.grievance_id}/response", headers=a, json={"text": "We hold your email."}
    ),
    ("GET", "/providers"): lambda h, a, i: h.get(f"{API}/providers", headers=a),
    ("GET", "/inbox"): lambda h, a, i: h.get(f"{API}/inbox", headers=a),
    ("GET", "/rate-limits"): lambda h, a, i: h.get(f"{API}/rate-limits", headers=a),
    ("PUT", "/rate-limits"): lambda h, a, i: h.put(
        f"{API}/rate-limits", headers=a, json={"policy": "token.client", "rate": "300/minute"}
    ),
    ("GET", "/orgs"): lambda h, a, i: h.get(f"{API}/orgs", headers=a),
    ("POST", "/orgs"): lambda h, a, i: h.post(
        f"{API}/orgs", headers=a, json={"slug": f"new-{uuid.uuid4().hex[:6]}"}
    ),
}
#: Routes for the platform org's admins only: any other org's token gets 403 (test_orgs.py runs them).
PLATFORM_ROUTES = {("GET", "/orgs"), ("POST", "/orgs")}
#: In order, so that each finds its target in the state it needs (enable after disable, delete last).
ORDER = list(ROUTES)


def served(services: Services) -> set[tuple[str, str]]:
    app = create_admin_app(services)
    while not isinstance(app, FastAPI):
        app = app.app  # type: ignore[attr-defined]
    found = set()
    for route in app.routes:
        for effective in getattr(route, "effective_route_contexts", lambda r=route: [r])():
            for method in getattr(effective, "methods", None) or ():
                if effective.path.startswith(API) and not effective.path.endswith("openapi.json"):
                    found.add((method, effective.path.removeprefix(API)))
    return found


def test_every_admin_route_is_exercised_here(services: Services) -> None:
    assert served(services) == set(ROUTES)


async def _audit_count(owner_db: Database, org_id: uuid.UUID) -> int:
    async with owner_db.system() as session:
        query = select(func.count()).select_from(AuditEntry).where(AuditEntry.org_id == org_id)
        return int(await session.scalar(query) or 0)


async def _ids(services: Services, make_client: MakeClient, make_user: MakeUser, org: Organization) -> Ids:
    client = await make_client(org, grant_types=["authorization_code", "refresh_token"])
    user = await make_user(org)
    hook = await webhooks.add(
        services.db, org.id, HOOK_URL, policy=policy_for(services.settings), actor=ADMIN
    )
    kids = tuple(key.kid for key, _ in await list_signing_keys(services.db, org))
    async with services.db.tenant(org.id) as session:
        ticket = await grievances.raise_ticket(
            session, org, user, category="access", subject="My data", text="What?", locale="en", now=utcnow()
        )
    provider = await registry.add(services.db, services.keyring, org.id, PROVIDER, ADMIN)
    return Ids(client.client_id, user.id, hook.id, kids, ticket.id, provider.client_id)


async def test_org_a_reaches_nothing_of_org_b(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    owner_db: Database,
    token: str,
    org: Organization,
    other_org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
) -> None:
    b = await _ids(services, make_client, make_user, other_org)
    before, audit_before = (
        await fingerprint(owner_db, other_org.id),
        await _audit_count(owner_db, other_org.id),
    )
    auth = bearer(token)
    for key in ORDER:
        response = await ROUTES[key](admin_http, auth, b)  # type: ignore[misc]
        assert isinstance(response, httpx.Response)
        if key in PLATFORM_ROUTES:
            assert response.status_code == 403, (key, response.text)
        elif "{" in key[1]:
            assert response.status_code == 404, (key, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        else:
            assert response.status_code in (200, 201), (key, response.text)
            theirs = (
                str(b.user_id),
                b.client_id,
                str(b.webhook_id),
                *b.kids,
                str(b.grievance_id),
                b.provider_client_id,
            )
            assert not [mark for mark in theirs if mark in response.text], key
            assert str(other_org.id) not in response.text, key
    assert changed(before, await fingerprint(owner_db, other_org.id)) == []
    assert await _audit_count(owner_db, other_org.id) == audit_before


async def test_every_change_is_audited_with_the_admin_as_actor(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    owner_db: Database,
    token: str,
    org: Organization,
    org_admin: AdminClient,
    make_client: MakeClient,
    make_user: MakeUser,
) -> None:
    a = await _ids(services, make_client, make_user, org)
    auth = bearer(token)
    for key in (key for key in ORDER if key not in PLATFORM_ROUTES):
        before = await fingerprint(owner_db, org.id)
        response = await ROUTES[key](admin_http, auth, a)  # type: ignore[misc]
        assert isinstance(response, httpx.Response)
        assert response.status_code in (200, 201, 204), (key, response.text)
        differences = changed(before, await fingerprint(owner_db, org.id))
        async with owner_db.system() as session:
            query = select(AuditEntry).where(AuditEntry.request_id == response.headers["x-request-id"])
            entries = (await session.scalars(query)).all()
        if key[0] == "GET":
            assert not differences and not entries, key
        else:
            assert entries, (key, differences)  # every write is audited, even one with nothing to end
            assert {(e.org_id, e.actor_type, e.actor_id) for e in entries} == {
                (org.id, "admin", f"client:{org_admin.client_id}")
            }, key
