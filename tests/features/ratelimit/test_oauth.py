"""Limits at the OAuth JSON endpoints: a client's budget is spent only by requests that
authenticated as it; failed authentications are refused per (client, IP) and per IP; a 429 is
RFC 6749 §5.2-shaped with Retry-After and RateLimit headers."""

from __future__ import annotations

from collections import Counter

import httpx

from namoid import events
from namoid.services import Services
from namoid.storage.models import Organization
from tests.features.conftest import MakeClient, RegisteredClient
from tests.features.ratelimit.conftest import ClientAt, UseLimits, audit_count, security_events
from tests.features.token.conftest import basic

CC = {"grant_type": "client_credentials"}


async def _service(make_client: MakeClient) -> RegisteredClient:
    return await make_client(grant_types=["client_credentials"], redirect_uris=[], scopes=["api.read"])


async def test_a_clients_budget_is_spent_only_by_authenticated_requests(
    services: Services, org: Organization, make_client: MakeClient, use_limits: UseLimits, client_at: ClientAt
) -> None:
    await use_limits({"token.client": "2/minute"})
    rp = await _service(make_client)
    url = f"/o/{org.slug}/token"
    async with client_at("198.51.100.40") as attacker, client_at("198.51.100.41") as real:
        guesses = [
            await attacker.post(url, data=CC, headers=basic(rp.client_id, f"guess-{i}")) for i in range(5)
        ]
        assert [r.status_code for r in guesses] == [401] * 5
        tokens = [await real.post(url, data=CC, headers=basic(rp.client_id, rp.secret)) for _ in range(3)]
    assert [r.status_code for r in tokens[:2]] == [200, 200]
    refused = tokens[2]  # the real client's own budget, spent by itself
    assert refused.status_code == 429
    assert refused.json() == {"error": "temporarily_unavailable", "error_description": "rate limit exceeded"}
    assert refused.headers["content-type"] == "application/json"
    assert refused.headers["cache-control"] == "no-store" and refused.headers["pragma"] == "no-cache"
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-policy"] == '"token.client";q=2;w=60'
    assert refused.headers["ratelimit"] == f'"token.client";r=0;t={refused.headers["retry-after"]}'


async def test_a_public_clients_budget_is_kept_per_address(
    org: Organization, make_client: MakeClient, use_limits: UseLimits, client_at: ClientAt
) -> None:
    """A public client proves nothing but its public id: one address spending its budget with
    bogus codes must not refuse the client's requests from everybody else."""
    await use_limits({"token.client": "2/minute"})
    app = await make_client(client_type="public", grant_types=["authorization_code"])
    url = f"/o/{org.slug}/token"
    bogus = {
        "grant_type": "authorization_code",
        "client_id": app.client.client_id,
        "code": "bogus",
        "redirect_uri": "https://rp.example/callback",
        "code_verifier": "v" * 43,
    }
    async with client_at("198.51.100.44") as attacker, client_at("198.51.100.45") as user:
        spent = [(await attacker.post(url, data=bogus)).status_code for _ in range(3)]
        theirs = await user.post(url, data=bogus)
    assert spent == [400, 400, 429]  # the attacker's own share of the budget, spent by itself
    assert theirs.status_code == 400 and theirs.json()["error"] == "invalid_grant"


async def test_wrong_secrets_are_refused_per_client_and_ip_before_any_check(
    services: Services, org: Organization, make_client: MakeClient, client_at: ClientAt
) -> None:
    rp = await _service(make_client)
    url = f"/o/{org.slug}/token"
    statuses: Counter[int] = Counter()
    async with client_at("198.51.100.42") as attacker, client_at("198.51.100.43") as real:
        for i in range(300):
            statuses[
                (await attacker.post(url, data=CC, headers=basic(rp.client_id, f"g{i}"))).status_code
            ] += 1
            if i % 30 == 0:
                assert (
                    await real.post(url, data=CC, headers=basic(rp.client_id, rp.secret))
                ).status_code == 200
        refused = await attacker.post(url, data=CC, headers=basic(rp.client_id, rp.secret))
    assert statuses == Counter({401: 5, 429: 295})  # client_auth.failures_client_ip: 5 a minute
    assert refused.status_code == 429  # refused before the check: even the right secret, from there
    assert refused.headers["ratelimit-policy"].startswith('"client_auth.failures_client_ip";')
    assert await audit_count(services, org, "client.authentication_failed") == 5
    assert await audit_count(services, org, "ratelimit.refused") == 1  # one entry for 296 refusals


async def test_failures_per_ip_span_clients(
    org: Organization, use_limits: UseLimits, client_at: ClientAt
) -> None:
    await use_limits({"client_auth.failures_ip": "3/minute"})
    url = f"/o/{org.slug}/token"
    async with client_at("198.51.100.50") as attacker, client_at("198.51.100.51") as other:
        statuses = [
            (await attacker.post(url, data={**CC, "client_id": f"c{i}"})).status_code for i in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]
        assert (await other.post(url, data={**CC, "client_id": "c0"})).status_code == 401


async def test_failures_for_one_client_from_many_ips_raise_the_alarm_and_refuse_no_one(
    services: Services, org: Organization, make_client: MakeClient, use_limits: UseLimits, client_at: ClientAt
) -> None:
    await use_limits({"client_auth.failures": "3/minute"})
    rp = await _service(make_client)
    url = f"/o/{org.slug}/token"
    for number in range(6):
        async with client_at(f"203.0.113.{number + 1}") as attacker:
            guess = await attacker.post(url, data=CC, headers=basic(rp.client_id, "wrong"))
            assert guess.status_code == 401  # never 429: the client's failures refuse nobody
    async with client_at("198.51.100.52") as real:
        assert (await real.post(url, data=CC, headers=basic(rp.client_id, rp.secret))).status_code == 200
    [alarm] = await security_events(services, org, "client.bruteforce_suspected")  # once, not four times
    assert alarm.subject == events.opaque_subject(f"client:{rp.client_id}")


async def test_token_per_ip_ceiling_spans_clients(
    org: Organization, use_limits: UseLimits, client_at: ClientAt
) -> None:
    await use_limits({"token.ip": "3/minute"})
    url = f"/o/{org.slug}/token"
    async with client_at("198.51.100.53") as flood, client_at("198.51.100.54") as other:
        statuses = [(await flood.post(url, data={**CC, "client_id": f"c{i}"})).status_code for i in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        assert (await other.post(url, data={**CC, "client_id": "c0"})).status_code == 401


async def test_introspection_per_client_after_authentication(
    http: httpx.AsyncClient, org: Organization, make_client: MakeClient, use_limits: UseLimits
) -> None:
    await use_limits({"introspect.client": "1/minute"})
    rs = await _service(make_client)
    url = f"/o/{org.slug}/introspect"
    wrong = await http.post(url, data={"token": "x"}, headers=basic(rs.client_id, "wrong"))
    assert wrong.status_code == 401  # spends nothing of the client's budget
    first = await http.post(url, data={"token": "x"}, headers=basic(rs.client_id, rs.secret))
    assert first.status_code == 200 and first.json() == {"active": False}
    second = await http.post(url, data={"token": "x"}, headers=basic(rs.client_id, rs.secret))
    assert second.status_code == 429 and second.json()["error"] == "temporarily_unavailable"
    assert second.headers["ratelimit-policy"] == '"introspect.client";q=1;w=60'


async def test_introspection_per_ip_ceiling(
    org: Organization, use_limits: UseLimits, client_at: ClientAt
) -> None:
    await use_limits({"introspect.ip": "2/minute"})
    url = f"/o/{org.slug}/introspect"
    async with client_at("198.51.100.55") as flood:
        statuses = [
            (await flood.post(url, data={"token": "t", "client_id": f"c{i}"})).status_code for i in range(3)
        ]
    assert statuses == [401, 401, 429]


async def test_revocation_per_client_after_authentication(
    services: Services, org: Organization, make_client: MakeClient, use_limits: UseLimits, client_at: ClientAt
) -> None:
    await use_limits({"revoke.client": "2/minute"})
    rp = await _service(make_client)
    url = f"/o/{org.slug}/revoke"
    async with client_at("198.51.100.56") as attacker, client_at("198.51.100.57") as real:
        guesses = [
            await attacker.post(url, data={"token": "t"}, headers=basic(rp.client_id, f"g{i}"))
            for i in range(4)
        ]
        assert [r.status_code for r in guesses] == [401] * 4
        answers = [
            await real.post(url, data={"token": "t"}, headers=basic(rp.client_id, rp.secret))
            for _ in range(3)
        ]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[2].json()["error"] == "temporarily_unavailable"
    assert answers[2].headers["ratelimit-policy"] == '"revoke.client";q=2;w=60'


async def test_revocation_per_ip_ceiling_spans_clients(
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


async def test_malformed_requests_count_against_the_ceiling_only(
    org: Organization, make_client: MakeClient, use_limits: UseLimits, client_at: ClientAt
) -> None:
    await use_limits({"token.ip": "3/minute", "token.client": "1/minute"})
    rp = await _service(make_client)
    url = f"/o/{org.slug}/token"
    async with client_at("198.51.100.90") as flood, client_at("198.51.100.91") as real:
        malformed = [
            await flood.post(url, content=b"x%22=1&x%22=2&\xff", headers={"Content-Type": "application/json"})
            for _ in range(4)
        ]
        assert [r.status_code for r in malformed] == [400, 400, 400, 429]
        assert (await real.post(url, data=CC, headers=basic(rp.client_id, rp.secret))).status_code == 200
