"""``GET /metrics`` on the admin app (issue 16): scraped with a platform admin token, parsed with
prometheus_client's own parser; refused without a token or an allowed address; never on the
public app."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from namoid.admin import scopes
from namoid.admin.app import create_admin_app
from namoid.admin.bootstrap import bootstrap
from namoid.audit.sealing import seal_all
from namoid.notify import outbox
from namoid.notify.messages import EmailMessage
from namoid.ratelimit.limiter import Limiter
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from tests.conftest import ISOLATED
from tests.features.admin.conftest import AdminClient, admin_client, admin_token, bearer, token_response
from tests.features.authorize.conftest import Flow, pkce_pair
from tests.features.conftest import ADMIN, MakeClient, MakeUser

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(admin_http: httpx.AsyncClient, token: str) -> Samples:
    response = await admin_http.get("/metrics", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    assert response.headers["cache-control"] == "no-store"
    return parse(response.text)


@pytest.fixture
async def scraper(
    http: httpx.AsyncClient, services: Services, make_client: MakeClient
) -> tuple[AdminClient, str]:
    """A client of the platform org granted admin:metrics:read, and its admin token (ISOLATED
    tests only: the platform org is one per database)."""
    platform, _ = await bootstrap(services.db, services.keyring, "platform", "root@example.com", ADMIN)
    robot = await admin_client(services, make_client, platform, [scopes.METRICS_READ])
    return robot, await admin_token(http, services, robot)


@ISOLATED
async def test_a_scrape_counts_tokens_by_grant_requests_by_route_and_429s_by_policy(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    scraper: tuple[AdminClient, str],
) -> None:
    robot, token = scraper
    before = await scrape(admin_http, token)

    issued = await token_response(http, services, robot)
    assert issued.status_code == 200
    await services.limiter.close()
    services.limiter = Limiter(overrides={"token.ip": "1/minute"})
    assert (await token_response(http, services, robot)).status_code == 200
    refused = await token_response(http, services, robot)
    assert refused.status_code == 429
    after = await scrape(admin_http, token)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("namoid_tokens_issued_total", grant_type="client_credentials") == 2
    assert grew("namoid_ratelimit_refusals_total", policy="token.ip") == 1
    route = {"app": "public", "method": "POST", "route": "/o/{org}/token"}
    assert grew("namoid_http_requests_total", **route, status="200") == 2
    assert grew("namoid_http_requests_total", **route, status="429") == 1
    assert grew("namoid_http_request_duration_seconds_count", **route) == 3
    requests = "namoid_http_requests_total"
    scraped = {"app": "admin", "method": "GET", "route": "/metrics", "status": "200"}
    assert value(after, requests, **scraped) >= 1
    routes = {dict(labels).get("route") for name, labels in after if name == requests}
    assert not any(slug in str(r) for r in routes for slug in ("platform", org.slug)), routes
    assert ("namoid_db_pool_connections_in_use", frozenset()) in after


@ISOLATED
async def test_the_outbox_backlog_and_the_sealing_lag_are_read_at_scrape_time(
    admin_http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    scraper: tuple[AdminClient, str],
) -> None:
    _, token = scraper
    hour_ago = utcnow() - timedelta(hours=1)
    async with services.db.tenant(org.id) as session:
        mail = EmailMessage(to="asha@example.com", subject="Hello", text="Welcome")
        await outbox.enqueue(session, services.keyring, services.wakeup, org.id, mail, ADMIN, hour_ago)
    waiting = await scrape(admin_http, token)
    assert value(waiting, "namoid_outbox_pending", kind="email") == 1
    assert value(waiting, "namoid_outbox_pending", kind="sms") == 0
    assert 3600 <= value(waiting, "namoid_outbox_oldest_pending_age_seconds", kind="email") < 3700
    assert value(waiting, "namoid_outbox_oldest_pending_age_seconds", kind="webhook") == 0
    unsealed = value(waiting, "namoid_audit_unsealed_entries")
    assert unsealed >= 5  # the bootstrap, the clients, the token, the message: nothing sealed yet
    assert value(waiting, "namoid_audit_sealing_lag_seconds") > 0

    await seal_all(services)
    sealed = await scrape(admin_http, token)
    # Everything is sealed now (a scrape itself writes no audit entry).
    assert value(sealed, "namoid_audit_unsealed_entries") == 0
    assert value(sealed, "namoid_audit_sealing_lag_seconds") == 0


async def test_a_scrape_without_a_token_or_allowed_address_is_refused(
    http: httpx.AsyncClient,
    admin_http: httpx.AsyncClient,
    services: Services,
    org_admin: AdminClient,
) -> None:
    missing = await admin_http.get("/metrics")
    assert missing.status_code == 401 and missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["www-authenticate"] == 'Bearer realm="namoid-admin"'
    wrong = await admin_http.get("/metrics", headers=bearer("not-a-token"))
    assert wrong.status_code == 401
    # Every admin scope of an ordinary org, but metrics are the platform's.
    org_token = await admin_token(http, services, org_admin)
    refused = await admin_http.get("/metrics", headers=bearer(org_token))
    assert refused.status_code == 403 and 'scope="admin:metrics:read"' in refused.headers["www-authenticate"]
    assert (await http.get("/metrics")).status_code == 404  # never on the public app


async def test_the_metrics_secret_and_allowed_addresses_may_scrape(services: Services) -> None:
    secret = "metrics-secret-" + "x" * 24  # pragma: allowlist secret
    services.settings = services.settings.model_copy(
        update={"metrics_token": SecretStr(secret), "metrics_allow": ["192.0.2.0/28", "2001:db8::/64"]}
    )
    app = create_admin_app(services)

    async def get(ip: str, token: str | None = None) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        base = services.settings.admin_base_url
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            return await client.get("/metrics", headers=bearer(token) if token else {})

    assert (await get("198.51.100.9", secret)).status_code == 200
    assert (await get("198.51.100.9", secret[:-1] + "y")).status_code == 401
    assert (await get("198.51.100.9")).status_code == 401
    assert (await get("192.0.2.5")).status_code == 200
    assert (await get("192.0.2.17")).status_code == 401
    assert (await get("2001:db8::7")).status_code == 200
    body = (await get("192.0.2.5")).text
    assert "namoid_http_requests_total" in body and "namoid_outbox_pending" in body


async def test_sign_in_outcomes_are_counted(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    make_client: MakeClient,
    make_user: MakeUser,
) -> None:
    secret = "metrics-secret-" + "z" * 24  # pragma: allowlist secret
    services.settings = services.settings.model_copy(update={"metrics_token": SecretStr(secret)})
    transport = httpx.ASGITransport(app=create_admin_app(services), client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.admin_base_url) as admin:
        before = await scrape(admin, secret)
        rp = await make_client(scopes=["openid", "profile", "email"])
        flow = Flow(http, services, org, rp, await make_user(), *pkce_pair())
        assert "code" in await flow.sign_in_and_allow()
        http.cookies.clear()
        page = await flow.follow(await flow.authorize())
        wrong = "wrong password"  # pragma: allowlist secret
        assert (await flow.login(page, password=wrong)).status_code == 200
        after = await scrape(admin, secret)
    for outcome in ("succeeded", "failed"):
        grew = value(after, "namoid_sign_ins_total", outcome=outcome, method="pwd")
        assert grew - value(before, "namoid_sign_ins_total", outcome=outcome, method="pwd") == 1, outcome
