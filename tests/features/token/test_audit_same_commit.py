"""A token and its audit entry commit together (DESIGN.md §5): if the audit INSERT fails, no
``jti`` row is left and no token is answered. The database itself refuses the audit row (a
trigger added by the schema owner), so the failure is a real one inside the transaction.
"""

from __future__ import annotations

import httpx
from sqlalchemy import text

from namoid.app import create_public_app
from namoid.services import Services
from namoid.storage.db import Database
from namoid.storage.models import Organization
from tests.conftest import ISOLATED, Backend
from tests.features.conftest import RegisteredClient
from tests.features.token.conftest import post

pytestmark = ISOLATED

REFUSE_ISSUED = {
    "sqlite": [
        "CREATE TRIGGER refuse_issued BEFORE INSERT ON audit_log WHEN NEW.action = 'token.issued'"
        " BEGIN SELECT RAISE(ABORT, 'audit insert refused'); END"
    ],
    "postgres": [
        "CREATE FUNCTION refuse_issued() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'audit insert refused'; END $$",
        "CREATE TRIGGER refuse_issued BEFORE INSERT ON audit_log FOR EACH ROW"
        " WHEN (NEW.action = 'token.issued') EXECUTE FUNCTION refuse_issued()",
    ],
}


async def _jti_rows(owner_db: Database, client_id: str) -> int:
    async with owner_db.engine.connect() as conn:
        query = text("SELECT count(*) FROM access_tokens WHERE client_id = :client")
        return int((await conn.execute(query, {"client": client_id})).scalar_one())


async def test_a_failed_audit_insert_leaves_no_token(
    backend: Backend,
    services: Services,
    owner_db: Database,
    org: Organization,
    service_client: RegisteredClient,
) -> None:
    transport = httpx.ASGITransport(app=create_public_app(services), raise_app_exceptions=False)
    form = {"grant_type": "client_credentials"}
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.base_url) as http:
        assert (await post(http, org, "token", form, service_client)).status_code == 200
        assert await _jti_rows(owner_db, service_client.client_id) == 1
        async with owner_db.engine.begin() as conn:
            for statement in REFUSE_ISSUED["sqlite" if backend.name == "sqlite" else "postgres"]:
                await conn.execute(text(statement))
        refused = await post(http, org, "token", form, service_client)
    assert refused.status_code == 500
    assert "access_token" not in refused.text
    assert await _jti_rows(owner_db, service_client.client_id) == 1  # the failed request's row is gone
