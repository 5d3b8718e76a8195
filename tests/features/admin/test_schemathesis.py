"""Schemathesis against the checked-in OpenAPI document (issue 16): every operation of the admin
API, fed generated valid and invalid requests with a real platform admin token holding every
admin scope, answers without a 5xx, with a documented status, content type and body schema.

The admin app runs in-process on one event loop (a blocking portal) for the whole module, with
its database (a fresh SQLite file, or a scratch PostgreSQL database): Schemathesis generates
the cases, the portal sends them, Schemathesis validates the answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from namoid.admin import scopes
from namoid.admin.app import create_admin_app
from namoid.admin.bootstrap import bootstrap
from namoid.app import create_public_app
from namoid.crypto.keyring import Keyring, create_keyring_file
from namoid.oauth import client_metadata, client_registry
from namoid.services import Services
from namoid.settings import Settings
from namoid.storage.db import Database
from tests.conftest import scratch_pg_database
from tests.features.conftest import ADMIN
from tests.features.token.conftest import basic

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "admin-openapi.json"
SCHEMA = schemathesis.openapi.from_path(DOCUMENT)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Target:
    """The admin app on the portal's loop, and a token of the platform org with every admin scope."""

    portal: BlockingPortal
    admin: httpx.AsyncClient
    token: str

    def send(self, request: dict[str, Any]) -> httpx.Response:
        """One request as Schemathesis serialized it (requests-style keyword arguments)."""
        body: dict[str, Any] = {"json": request["json"]} if "json" in request else {}
        if "data" in request:
            body = {"content": request["data"]}
        call = self.admin.request(
            request["method"], request["url"], headers=request["headers"], params=request["params"], **body
        )
        return self.portal.call(lambda: call)


async def _start(settings_: Settings, keyring_file: Path) -> tuple[Services, httpx.AsyncClient, str]:
    services = Services(
        settings=settings_, db=Database(settings_.resolved_database_url), keyring=Keyring.load(keyring_file)
    )
    platform, _ = await bootstrap(services.db, services.keyring, "platform", "root@example.com", ADMIN)
    meta = client_metadata.validate(
        name="Schemathesis", client_type="confidential", grant_types=["client_credentials"], redirect_uris=[]
    )
    client, secret = await client_registry.register(services.db, services.keyring, platform.id, meta, ADMIN)
    everything = scopes.grantable(platform=True)
    await client_registry.set_admin_scopes(services.db, platform.id, client.client_id, everything, ADMIN)
    public = httpx.ASGITransport(app=create_public_app(services))
    async with httpx.AsyncClient(transport=public, base_url=settings_.base_url) as http:
        issued = await http.post(
            "/o/platform/token",
            data={"grant_type": "client_credentials", "resource": settings_.admin_resource},
            headers=basic(client.client_id, secret),
        )
    assert issued.status_code == 200, issued.text
    assert set(issued.json()["scope"].split()) == set(everything)
    transport = httpx.ASGITransport(app=create_admin_app(services), client=("198.51.100.20", 40000))
    admin = httpx.AsyncClient(transport=transport, base_url=settings_.admin_base_url)
    return services, admin, issued.json()["access_token"]


@contextmanager
def _database(backend: str, directory: Path, sqlite_template: Path) -> Iterator[str]:
    """The app's URL of a database of its own: a scratch PostgreSQL one, or a SQLite copy."""
    if backend == "postgres":
        with scratch_pg_database() as pg:
            yield pg.app_url
    else:
        path = directory / "namoid.db"
        path.write_bytes(sqlite_template.read_bytes())
        yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Target]:
    directory = tmp_path_factory.mktemp("schemathesis")
    keyring_file = directory / "keyring.json"
    create_keyring_file(keyring_file)
    with _database(request.param, directory, sqlite_template) as url:
        config = Settings(
            database_url=url, data_dir=directory / "data", keyring_file=keyring_file, dev_mode=False
        )
        with start_blocking_portal() as portal:
            services, admin, token = portal.call(_start, config, keyring_file)
            try:
                yield Target(portal, admin, token)
            finally:
                portal.call(admin.aclose)
                portal.call(services.close)


@SCHEMA.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_admin_operation_answers_as_documented(case: schemathesis.Case, target: Target) -> None:
    request = case.as_transport_kwargs(
        base_url=f"{target.admin.base_url}".rstrip("/"), headers={"Authorization": f"Bearer {target.token}"}
    )
    response = target.send(request)
    case.validate_response(response, checks=CHECKS, transport_kwargs=request)
    if response.status_code >= 400:
        problem = response.headers["content-type"] == "application/problem+json"
        assert problem, json.dumps(request, default=str)


def test_an_oversized_body_is_a_documented_413_problem(target: Target) -> None:
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    assert "413" in document["paths"]["/admin/v1/clients"]["post"]["responses"]
    request = {
        "method": "POST",
        "url": f"{target.admin.base_url}".rstrip("/") + "/admin/v1/clients",
        "headers": {"Authorization": f"Bearer {target.token}", "Content-Type": "application/json"},
        "params": {},
        "data": b'{"name": "' + b"x" * 70_000 + b'"}',
    }
    response = target.send(request)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_admin_workflows_answer_as_documented(target: Target) -> None:
    """Stateful: Schemathesis chains operations through the values responses return (a listed or
    created client's or user's id fed to its get, patch, enable, delete, …). Disabling a client or
    rotating its secret is left out: the listed client may be the tester's own, and a run that
    locks itself out only sees 401s from there on."""
    auth = {"Authorization": f"Bearer {target.token}"}
    base_url = f"{target.admin.base_url}".rstrip("/")

    workflows = SCHEMA.exclude(method="POST", path_regex=r"/clients/\{client_id\}/(disable|secret)$")

    class Workflow(workflows.as_state_machine()):  # type: ignore[misc]
        def call(self, case: schemathesis.Case, **kwargs: Any) -> Response:
            answer = target.send(case.as_transport_kwargs(base_url=base_url, headers=auth))
            return Response.from_httpx(answer, verify=False)

        def validate_response(self, response: Response, case: schemathesis.Case, *_: Any, **__: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=10,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
