"""Audit entries of the token side: issuance, refusals, revocation, replays; never a token value."""

from __future__ import annotations

import json

import httpx

from namoid.crypto.secrets import sha256_hex
from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization, User
from namoid.storage.repos import refresh_tokens
from tests.features.conftest import RegisteredClient
from tests.features.token.conftest import age_first_use, audit_rows, exchange, issue_code, post


def _dump(row: AuditEntry) -> str:
    return json.dumps(
        [row.actor_id, row.action, row.target_type, row.target_id, row.detail, row.ip], default=str
    )


async def test_audit_trail_of_a_token_lifecycle_has_no_token_values(
    http: httpx.AsyncClient,
    services: Services,
    org: Organization,
    web_app: RegisteredClient,
    service_client: RegisteredClient,
    user: User,
) -> None:
    secrets: list[str] = [web_app.secret or "", service_client.secret or ""]
    code, verifier = await issue_code(services, org, web_app.client_id, user, scope="openid offline_access")
    secrets += [code, verifier]
    first = (await exchange(http, org, web_app, code, verifier)).json()
    secrets += [first["access_token"], first["refresh_token"], first["id_token"]]
    replayed_code = await exchange(http, org, web_app, code, verifier)
    assert replayed_code.json()["error"] == "invalid_grant"

    code2, verifier2 = await issue_code(services, org, web_app.client_id, user, scope="openid offline_access")
    second = (await exchange(http, org, web_app, code2, verifier2)).json()
    secrets += [code2, verifier2, second["access_token"], second["refresh_token"]]
    rotated = (
        await post(
            http,
            org,
            "token",
            {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
            web_app,
        )
    ).json()
    secrets += [rotated["access_token"], rotated["refresh_token"]]
    again = {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    reused = await post(http, org, "token", again, web_app)  # within the reuse window
    assert reused.json()["refresh_token"] == rotated["refresh_token"]
    async with services.db.tenant(org.id) as session:
        found = await refresh_tokens.find(session, org.id, sha256_hex(second["refresh_token"]))
    assert found is not None and found[0].successor_enc is not None
    secrets.append(found[0].successor_enc)  # the sealed response never reaches the audit log
    await age_first_use(services, org, second["refresh_token"], 60)
    replay = await post(http, org, "token", again, web_app)
    assert replay.json()["error"] == "invalid_grant"

    machine = (await post(http, org, "token", {"grant_type": "client_credentials"}, service_client)).json()
    secrets.append(machine["access_token"])
    await post(http, org, "revoke", {"token": machine["access_token"]}, service_client)

    rows = await audit_rows(services, org)
    actions = [row.action for row in rows]
    issued = [row for row in rows if row.action == "token.issued"]
    assert {row.detail["grant"] for row in issued} == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert all(row.detail["client_id"] and "scope" in row.detail for row in issued)
    assert "authorization_code.replayed" in actions
    assert "refresh_token.replayed" in actions
    assert "refresh_token.reused_within_grace" in actions
    assert "token.refused" in actions
    assert "token.revoked" in actions
    code_replay = next(row for row in rows if row.action == "authorization_code.replayed")
    assert code_replay.outcome == "denied" and code_replay.detail["revoked_access"] == 1
    assert len(code_replay.detail["families"]) == 1
    assert all(row.ip == "203.0.113.7" for row in rows if row.action.startswith("token."))
    dumped = "\n".join(_dump(row) for row in rows)
    for secret in secrets:
        assert secret and secret not in dumped
