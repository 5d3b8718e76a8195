"""429 at the OAuth JSON endpoints: RFC 6749 §5.2-shaped body, Retry-After and RateLimit headers."""

from __future__ import annotations

import httpx

from namoid.services import Services
from namoid.storage.models import Organization
from tests.features.conftest import MakeClient
from tests.features.ratelimit.conftest import ClientAt, UseLimits, audit_count
from tests.features.token.conftest import basic

CC = {"grant_type": "client_credentials"}


async def test_token_per_client_is_checked_before_client_authentication(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    use_limits: UseLimits,
) -> None:
    await use_limits({"token.client": "2/minute"})
    rp = await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["api.read"])
    url = f"/o/{org.slug}/token"
    guesses = [await http.post(url, data=CC, headers=basic(rp.client_id, f"guess-{i}")) for i in range(2)]
    assert [r.status_code for r in guesses] == [401, 401]
    refused = await http.post(url, data=CC, headers=basic(rp.client_id, rp.secret))
    assert refused.status_code == 429
    assert refused.json() == {"error": "temporarily_unavailable", "error_description": "rate limit exceeded"}
    assert refused.headers["content-type"] == "application/json"
    assert refused.headers["cache-control"] == "no-store" and refused.headers["pragma"] == "no-cache"
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-policy"] == '"token.client";q=2;w=60'
    assert refused.headers["ratelimit"] == f'"token.client";r=0;t={refused.headers["retry-after"]}'
    # Refused before any secret was checked: only the two guesses were audited as failures.
    assert await audit_count(services, org, "client.authentication_failed") == 2


async def test_token_per_ip_spans_clients(
    org: Organization, make_client: MakeClient, use_limits: UseLimits, client_at: ClientAt
) -> None:
    await use_limits({"token.ip": "3/minute"})
    url = f"/o/{org.slug}/token"
    async with client_at("198.51.100.50") as attacker, client_at("198.51.100.51") as other:
        statuses = [
            (await attacker.post(url, data={**CC, "client_id": f"c{i}"})).status_code for i in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]
        assert (await other.post(url, data={**CC, "client_id": "c0"})).status_code == 401


async def test_introspection_per_client(
    http: httpx.AsyncClient, org: Organization, make_client: MakeClient, use_limits: UseLimits
) -> None:
    await use_limits({"introspect.client": "1/minute"})
    rs = await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["api.read"])
    url = f"/o/{org.slug}/introspect"
    first = await http.post(url, data={"token": "x"}, headers=basic(rs.client_id, rs.secret))
    assert first.status_code == 200 and first.json() == {"active": False}
    second = await http.post(url, data={"token": "x"}, headers=basic(rs.client_id, rs.secret))
    assert second.status_code == 429 and second.json()["error"] == "temporarily_unavailable"
    assert second.headers["ratelimit-policy"] == '"introspect.client";q=1;w=60'


async def test_revocation_per_client_is_checked_before_client_authentication(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    use_limits: UseLimits,
) -> None:
    await use_limits({"revoke.client": "2/minute"})
    rp = await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["api.read"])
    url = f"/o/{org.slug}/revoke"
    guesses = [
        await http.post(url, data={"token": "t"}, headers=basic(rp.client_id, f"guess-{i}")) for i in range(2)
    ]
    assert [r.status_code for r in guesses] == [401, 401]
    refused = await http.post(url, data={"token": "t"}, headers=basic(rp.client_id, rp.secret))
    assert refused.status_code == 429 and refused.json()["error"] == "temporarily_unavailable"
    assert refused.headers["ratelimit-policy"] == '"revoke.client";q=2;w=60'
    assert await audit_count(services, org, "client.authentication_failed") == 2


async def test_revocation_per_ip_spans_clients(
    org: Organization, use_limits: UseLimits, client_at: ClientAt
) -> None:
    await use_limits({"revoke.ip": "2/minute"})
    url = f"/o/{org.slug}/revoke"
    async with client_at("198.51.100.60") as attacker, client_at("198.51.100.61") as other:
        statuses = [
            (await attacker.post(url, data={"token": "t", "client_id": f"c{i}"})).status_code
            for i in range(3)
        ]
        assert statuses == [401, 401, 429]
        assert (await other.post(url, data={"token": "t", "client_id": "c0"})).status_code == 401


async def test_userinfo_per_ip_counts_token_guesses(
    org: Organization, use_limits: UseLimits, client_at: ClientAt
) -> None:
    await use_limits({"userinfo.ip": "3/minute"})
    url = f"/o/{org.slug}/userinfo"
    async with client_at("198.51.100.70") as attacker, client_at("198.51.100.71") as other:
        guesses = [
            await attacker.get(url, headers={"Authorization": f"Bearer guess-{i}"}) for i in range(3)
        ] + [await attacker.post(url, data={"access_token": "guess-3"})]
        assert [r.status_code for r in guesses] == [401, 401, 401, 429]
        refused = guesses[-1]
        assert refused.json() == {
            "error": "temporarily_unavailable",
            "error_description": "rate limit exceeded",
        }
        assert refused.headers["ratelimit-policy"] == '"userinfo.ip";q=3;w=60'
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert (await other.get(url, headers={"Authorization": "Bearer guess-0"})).status_code == 401
