"""Who may call the admin API: NamoID's own RFC 9068 tokens for the admin API, per org (issue 16)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from namoid.accounts import roles
from namoid.admin import scopes
from namoid.admin.app import create_admin_app
from namoid.jose import jwt
from namoid.oauth import client_registry, tokens
from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization, utcnow
from namoid.tenancy.resolve import issuer_for
from tests.features.admin.conftest import API, AdminClient, admin_client, admin_token, bearer, token_response
from tests.features.conftest import ADMIN, MakeClient, MakeUser
from tests.features.token.conftest import basic


async def test_an_admin_token_names_the_admin_api_as_its_audience(
    http: httpx.AsyncClient, services: Services, org_admin: AdminClient, org: Organization
) -> None:
    token = await admin_token(http, services, org_admin, scope=scopes.CLIENTS_READ)
    claims = jwt.unverified_claims(token)
    assert jwt.unverified_header(token)["typ"] == "at+jwt"
    assert claims["aud"] == services.settings.admin_resource == "https://localhost:8444/admin/v1"
    assert claims["iss"] == issuer_for(services.settings.base_url, org.slug)
    assert claims["scope"] == scopes.CLIENTS_READ and claims["sub"] == org_admin.client_id
    # Without the resource, no admin scope is issued; with another resource, nothing is.
    plain = await token_response(http, services, org_admin, resource="https://other.example/api")
    assert plain.status_code == 400 and plain.json()["error"] == "invalid_target"
    form = {"grant_type": "client_credentials", "scope": scopes.CLIENTS_READ}
    refused = await http.post(
        f"/o/{org.slug}/token", data=form, headers=basic(org_admin.client_id, org_admin.registered.secret)
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    wider = await token_response(http, services, org_admin, scope="admin:orgs:write")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


async def test_a_client_without_admin_scopes_gets_no_admin_token(
    http: httpx.AsyncClient, services: Services, make_client: MakeClient, org: Organization
) -> None:
    plain = await make_client(grant_types=["client_credentials"], redirect_uris=[])
    response = await http.post(
        f"/o/{org.slug}/token",
        data={"grant_type": "client_credentials", "resource": services.settings.admin_resource},
        headers=basic(plain.client_id, plain.secret),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_target"
    with pytest.raises(ValueError, match="admin scopes are granted on their own"):
        await make_client(scopes=["openid", scopes.USERS_WRITE])
    public = await make_client(client_type="public")
    with pytest.raises(ValueError, match="confidential client with the client_credentials grant"):
        await client_registry.set_admin_scopes(
            services.db, org.id, public.client_id, [scopes.AUDIT_READ], ADMIN
        )
    with pytest.raises(ValueError, match="cannot be granted here"):
        await client_registry.set_admin_scopes(services.db, org.id, plain.client_id, ["admin:root"], ADMIN)


def _assert_unauthorized(response: httpx.Response, *, error: bool = True) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="namoid-admin"')
    assert ('error="invalid_token"' in challenge) == error


async def test_no_token_or_a_bad_one_is_401_with_a_challenge(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    make_client: MakeClient,
    org: Organization,
) -> None:
    _assert_unauthorized(await admin_http.get(f"{API}/clients"), error=False)
    _assert_unauthorized(
        await admin_http.get(f"{API}/clients", headers={"Authorization": "Basic eDp5"}), error=False
    )
    for garbage in ("x", "a.b.c", "e30.e30.e30"):
        _assert_unauthorized(await admin_http.get(f"{API}/clients", headers=bearer(garbage)))
    # A valid token of the org, but for the org's own resources (aud = the issuer): wrong audience.
    plain = await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["profile"])
    response = await http.post(
        f"/o/{org.slug}/token",
        data={"grant_type": "client_credentials"},
        headers=basic(plain.client_id, plain.secret),
    )
    _assert_unauthorized(
        await admin_http.get(f"{API}/clients", headers=bearer(response.json()["access_token"]))
    )


async def test_expired_and_revoked_tokens_are_401(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    org_admin: AdminClient,
    org: Organization,
) -> None:
    issuer = issuer_for(services.settings.base_url, org.slug)
    key = await tokens.signer(services.signing, org, tokens.ACCESS_TOKEN_ALG)
    grant = tokens.Grant(
        client_id=org_admin.client_id, scope=scopes.CLIENTS_READ, audience=services.settings.admin_resource
    )
    async with services.db.tenant(org.id) as session:
        expired = await tokens.mint_access_token(
            session, org, issuer, key, grant, utcnow() - timedelta(hours=1)
        )
    _assert_unauthorized(await admin_http.get(f"{API}/clients", headers=bearer(expired)))

    token = await admin_token(http, services, org_admin)
    assert (await admin_http.get(f"{API}/clients", headers=bearer(token))).status_code == 200
    # Taking the client's admin scopes away takes effect at once, for the tokens it holds too.
    await client_registry.set_admin_scopes(
        services.db, org.id, org_admin.client_id, [scopes.AUDIT_READ], ADMIN
    )
    assert (await admin_http.get(f"{API}/clients", headers=bearer(token))).status_code == 403
    assert (await admin_http.get(f"{API}/audit", headers=bearer(token))).status_code == 200
    await client_registry.disable(services.db, org.id, org_admin.client_id, ADMIN)  # revokes its tokens
    _assert_unauthorized(await admin_http.get(f"{API}/audit", headers=bearer(token)))


async def test_a_missing_scope_is_403_with_insufficient_scope(
    http: httpx.AsyncClient, admin_http: httpx.AsyncClient, services: Services, org_admin: AdminClient
) -> None:
    token = await admin_token(http, services, org_admin, scope=scopes.CLIENTS_READ)
    assert (await admin_http.get(f"{API}/clients", headers=bearer(token))).status_code == 200
    response = await admin_http.post(
        f"{API}/clients", headers=bearer(token), json={"name": "x", "type": "public"}
    )
    assert response.status_code == 403 and response.headers["content-type"] == "application/problem+json"
    assert 'error="insufficient_scope", scope="admin:clients:write"' in response.headers["www-authenticate"]
    assert (await admin_http.get(f"{API}/users", headers=bearer(token))).status_code == 403
    async with services.db.tenant(org_admin.org.id) as session:
        query = select(AuditEntry).where(AuditEntry.request_id == response.headers["x-request-id"])
        denial = (await session.scalars(query)).one()
    assert (denial.action, denial.outcome, denial.actor_id) == (
        "admin.access_denied",
        "denied",
        f"client:{org_admin.client_id}",
    )
    assert denial.detail == {"missing_scope": "admin:clients:write"}
    assert (await admin_http.get(f"{API}/clients", headers=bearer(token))).status_code == 200


async def test_an_admin_token_is_useless_at_the_public_endpoints(
    http: httpx.AsyncClient, services: Services, org_admin: AdminClient, org: Organization
) -> None:
    token = await admin_token(http, services, org_admin)
    response = await http.get(f"/o/{org.slug}/userinfo", headers=bearer(token))
    assert response.status_code == 401


async def test_a_users_roles_bound_the_scopes_of_their_token(
    admin_http: httpx.AsyncClient,
    services: Services,
    make_user: MakeUser,
    make_client: MakeClient,
    org: Organization,
) -> None:
    """A console session's token (minted here as the console's sign-in will) carries what the
    user's roles allow, checked at each request."""
    user = await make_user()
    console = await make_client(first_party=True)
    issuer = issuer_for(services.settings.base_url, org.slug)
    key = await tokens.signer(services.signing, org, tokens.ACCESS_TOKEN_ALG)
    grant = tokens.Grant(
        client_id=console.client_id,
        scope=" ".join(scopes.ADMIN_SCOPES),
        user_id=user.id,
        audience=services.settings.admin_resource,
    )
    async with services.db.tenant(org.id) as session:
        token = await tokens.mint_access_token(session, org, issuer, key, grant, utcnow())
    assert (await admin_http.get(f"{API}/audit", headers=bearer(token))).status_code == 403  # no role
    await roles.grant(services.db, org.id, user.email, "auditor", ADMIN)
    assert (await admin_http.get(f"{API}/audit", headers=bearer(token))).status_code == 200
    assert (await admin_http.post(f"{API}/clients", headers=bearer(token), json={})).status_code == 403
    with pytest.raises(ValueError, match="already has the role"):
        await roles.grant(services.db, org.id, user.id, "auditor", ADMIN)
    with pytest.raises(ValueError, match="unknown role"):
        await roles.grant(services.db, org.id, user.id, "root", ADMIN)
    await roles.grant(services.db, org.id, user.id, "org_admin", ADMIN)
    created = await admin_http.post(
        f"{API}/clients", headers=bearer(token), json={"name": "Console-made", "type": "confidential",
                                                       "redirect_uris": ["https://rp.example/cb"]},
    )  # fmt: skip
    assert created.status_code == 201, created.text


async def test_admin_scopes_of_a_client_are_for_its_own_org_only(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    make_client: MakeClient,
    other_org: Organization,
) -> None:
    """Org B's admin token lists org B's clients, whatever org A holds."""
    admin_b = await admin_client(services, make_client, other_org)
    token = await admin_token(http, services, admin_b)
    listed = await admin_http.get(f"{API}/clients", headers=bearer(token))
    assert [c["client_id"] for c in listed.json()["items"]] == [admin_b.client_id]


async def test_an_admin_token_is_introspected_and_revoked_like_any_other(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    org_admin: AdminClient,
    org: Organization,
) -> None:
    """RFC 7662 and RFC 7009 know the admin API's tokens too: its client can end one at once."""
    token = await admin_token(http, services, org_admin)
    credentials = basic(org_admin.client_id, org_admin.registered.secret)
    seen = await http.post(f"/o/{org.slug}/introspect", data={"token": token}, headers=credentials)
    assert seen.json()["active"] is True and seen.json()["aud"] == services.settings.admin_resource
    revoked = await http.post(f"/o/{org.slug}/revoke", data={"token": token}, headers=credentials)
    assert revoked.status_code == 200
    _assert_unauthorized(await admin_http.get(f"{API}/clients", headers=bearer(token)))
    after = await http.post(f"/o/{org.slug}/introspect", data={"token": token}, headers=credentials)
    assert after.json() == {"active": False}


async def test_the_admin_api_is_rate_limited_per_ip_and_per_caller(
    http: httpx.AsyncClient, services: Services, org_admin: AdminClient, org: Organization
) -> None:
    token = await admin_token(http, services, org_admin)
    limited = Services(
        settings=services.settings.model_copy(update={"rate_limits": {"admin.caller": "2/minute"}}),
        db=services.db,
        keyring=services.keyring,
    )
    transport = httpx.ASGITransport(app=create_admin_app(limited), client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.admin_base_url) as admin:
        answers = [await admin.get(f"{API}/clients", headers=bearer(token)) for _ in range(4)]
        nobody = await admin.get(f"{API}/clients")
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    refused = answers[2]
    assert (
        refused.headers["content-type"] == "application/problem+json"
        and int(refused.headers["retry-after"]) > 0
    )
    assert nobody.status_code == 401  # the caller's budget is its own, not the address's
    async with services.db.tenant(org.id) as session:
        query = select(AuditEntry).where(
            AuditEntry.org_id == org.id, AuditEntry.action == "ratelimit.refused"
        )
        entries = (await session.scalars(query)).all()
    assert [(e.actor_id, e.target_id) for e in entries] == [(f"client:{org_admin.client_id}", "admin.caller")]

    by_ip = Services(
        settings=services.settings.model_copy(update={"rate_limits": {"admin.ip": "1/minute"}}),
        db=services.db,
        keyring=services.keyring,
    )
    transport = httpx.ASGITransport(app=create_admin_app(by_ip), client=("198.51.100.10", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.admin_base_url) as admin:
        first, second = [await admin.get(f"{API}/clients", headers=bearer("not-a-token")) for _ in range(2)]
    assert (first.status_code, second.status_code) == (401, 429)
    await limited.limiter.close()
    await by_ip.limiter.close()
