"""Database round trips per request on the hot endpoints (issue 15), counted on the real engine.

A round trip is a statement sent to the database, a transaction's BEGIN/COMMIT, or a pool
checkout's liveness ping (``pool_pre_ping``). The counts pin what each request costs now, so a
change that adds a statement to every token response fails here, not only in the benchmark;
and on PostgreSQL every transaction sets the org for row-level security before anything else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from namoid.services import Services
from namoid.storage.models import Organization, User
from tests.features.conftest import RegisteredClient
from tests.features.token.conftest import exchange, issue_code, post, refresh

#: On SQLite; PostgreSQL adds one (the org's ``set_config`` for RLS, DESIGN.md §2). The client is
#: read from the node cache (``oauth.client_auth.ClientDirectory``), warm after the first request.
ROUND_TRIPS = {"client_credentials": 5, "code": 11, "refresh": 11, "introspect": 5, "userinfo": 5}


class Trips:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def counted(services: Services) -> Iterator[Trips]:
    """Every round trip the engine makes while the block runs."""
    engine, trips = services.db.engine.sync_engine, Trips()

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        trips.statements.append(" ".join(sql.split())[:60])

    def begin(_conn: Any) -> None:
        if services.db.is_postgres:  # SQLite's BEGIN IMMEDIATE is a statement of its own
            trips.statements.append("BEGIN")

    def commit(_conn: Any) -> None:
        trips.statements.append("COMMIT")

    def checkout(*_args: Any) -> None:
        trips.statements.append("checkout ping")

    hooks = [(engine, "before_cursor_execute", statement), (engine, "begin", begin)]
    hooks += [(engine, "commit", commit), (engine.pool, "checkout", checkout)]
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    try:
        yield trips
    finally:
        for target, name, hook in hooks:
            event.remove(target, name, hook)


async def _tokens(
    http: httpx.AsyncClient, services: Services, org: Organization, client: RegisteredClient, user: User
) -> tuple[dict[str, str], Trips]:
    scope = "openid email offline_access"
    code, verifier = await issue_code(services, org, client.client_id, user, scope=scope)
    with counted(services) as trips:
        response = await exchange(http, org, client, code, verifier)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body, trips


async def test_round_trips(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    service_client: RegisteredClient,
    user: User,
) -> None:
    # A node that hears invalidations keeps its cache entries (one that does not keeps them 1 s, which a
    # slow CI machine could outlast between two requests here): the counts are a listening node's.
    services.caches.listening = True
    await post(http, org, "token", {"grant_type": "client_credentials"}, service_client)  # warm caches
    with counted(services) as cc:
        response = await post(http, org, "token", {"grant_type": "client_credentials"}, service_client)
    assert response.status_code == 200, response.text
    await _tokens(http, services, org, web_app, user)
    body, code = await _tokens(http, services, org, web_app, user)
    with counted(services) as rotate:
        response = await refresh(http, org, web_app, body["refresh_token"])
    assert response.status_code == 200, response.text
    with counted(services) as introspect:
        response = await post(http, org, "introspect", {"token": body["access_token"]}, web_app)
    assert response.json()["active"] is True
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    with counted(services) as userinfo:
        response = await http.get(f"/o/{org.slug}/userinfo", headers=bearer)
    assert response.status_code == 200, response.text
    found = {"client_credentials": cc, "code": code, "refresh": rotate, "introspect": introspect,
             "userinfo": userinfo}  # fmt: skip
    postgres = services.db.is_postgres
    for name, trips in found.items():
        assert trips.count == ROUND_TRIPS[name] + postgres, (name, trips.statements)
        if postgres:
            assert trips.statements[2].startswith("SELECT set_config("), (name, trips.statements)
