"""Withdrawing a consent ends the relying party's access and tells it so (issue 13 item 3)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from namoid.events import webhooks
from namoid.events.delivery import EventDelivery
from namoid.jose import jwt
from namoid.outbound import policy_for
from namoid.privacy import withdrawal
from namoid.storage.models import AuditEntry, SecurityEvent
from namoid.tenancy import organizations
from namoid.tenancy.resolve import issuer_for
from tests.features.authorize.conftest import REDIRECT_URI, Flow, new_flow, query
from tests.features.conftest import MakeClient, MakeUser, RegisteredClient
from tests.features.consent.conftest import (
    ADMIN,
    api_token,
    bearer,
    first_party,
    ledger,
    remembered,
    with_rp,
    withdraw,
)
from tests.features.revocation.conftest import browser_tokens, introspect, redeem, userinfo_status
from tests.features.token.conftest import FULL_SCOPES, refresh
from tests.receiver import receiver

SCOPE = "openid profile email offline_access"
SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"


@pytest.fixture
async def rp(flow: Flow, make_client: MakeClient) -> RegisteredClient:
    """A relying party with refresh tokens; the flow drives it."""
    client = await make_client(
        redirect_uris=[REDIRECT_URI], grant_types=["authorization_code", "refresh_token"], scopes=FULL_SCOPES
    )
    flow.rp = client
    return client


async def _consent_id(flow: Flow) -> uuid.UUID:
    consent = await remembered(flow)
    assert consent is not None
    return consent.id


async def test_withdrawal_revokes_the_rp_and_it_receives_a_signed_set(
    flow: Flow, rp: RegisteredClient, inspector: RegisteredClient, receiver_tls: tuple[Path, Path]
) -> None:
    services, org = flow.services, flow.org
    token = await api_token(flow)
    with receiver(cert=receiver_tls) as rx:
        await webhooks.add(services.db, org.id, rx.url, policy=policy_for(services.settings), actor=ADMIN)
        tokens = await browser_tokens(flow, rp, SCOPE)
        consent_id = await _consent_id(flow)

        answer = await withdraw(flow, consent_id, token)
        assert answer.status_code == 204, answer.text

        # Refresh refused, introspection inactive, userinfo 401: no claim is released any more.
        assert (await refresh(flow.http, org, rp, tokens["refresh_token"])).json()["error"] == "invalid_grant"
        assert (await introspect(flow.http, org, inspector, tokens["access_token"])) == {"active": False}
        assert await userinfo_status(flow.http, org, tokens["access_token"]) == 401
        # The remembered consent is gone: the next authorization asks again.
        assert await remembered(flow) is None
        assert (await flow.authorize(scope=SCOPE)).headers["location"].startswith(f"{flow.base}/consent?req=")
        granted, withdrawn = await ledger(flow)
        assert (withdrawn.event, withdrawn.consent_id, withdrawn.action) == ("withdrawn", consent_id, "api")
        assert withdrawn.withdrawn_by == "user" and withdrawn.claims == granted.claims

        delivery = EventDelivery(services)
        try:
            assert (await delivery.run(orgs=[org])).delivered == 1
        finally:
            await delivery.close()
    [(headers, set_token)] = rx.received
    assert headers["content-type"] == "application/secevent+jwt"
    jwks = (await flow.http.get(f"{flow.base}/jwks.json")).json()
    issuer = issuer_for(services.settings.base_url, org.slug)
    claims = jwt.verify(
        set_token, jwks["keys"], algorithms=("RS256",), issuer=issuer, audience=rx.url,
        typ="secevent+jwt", expires=False,
    )  # fmt: skip
    assert claims["sub_id"] == {"format": "iss_sub", "iss": issuer, "sub": str(flow.user.id)}
    payload = claims["events"][SESSION_REVOKED]
    assert payload["initiating_entity"] == "user" and payload["client_id"] == rp.client_id
    assert payload["consent_id"] == str(consent_id) and "en" in payload["reason_user"]

    # Idempotent: the second withdrawal answers the same and changes nothing.
    entries = await flow.count(AuditEntry)
    assert (await withdraw(flow, consent_id, token)).status_code == 204
    assert len(await ledger(flow)) == 2 and await flow.count(AuditEntry) == entries
    assert await flow.count(SecurityEvent, name="consent.withdrawn") == 1
    actions = await flow.audit_actions()
    assert actions.count("consent.withdrawn") == 1 and "grants.revoked" in actions


async def test_a_code_issued_before_the_withdrawal_cannot_be_redeemed(
    flow: Flow, rp: RegisteredClient
) -> None:
    params = await flow.sign_in_and_allow(scope=SCOPE)
    consent_id = await _consent_id(flow)
    result = await withdrawal.withdraw(flow.services.db, flow.org.id, flow.user.id, consent_id, how="console")
    assert result.changed and result.revoked.codes == 1
    assert (await redeem(flow, rp, params["code"])).json()["error"] == "invalid_grant"


async def test_someone_elses_consent_is_not_found_and_unchanged(
    flow: Flow, rp: RegisteredClient, make_client: MakeClient, make_user: MakeUser
) -> None:
    tokens = await browser_tokens(flow, rp, SCOPE)
    consent_id = await _consent_id(flow)
    other = await new_flow(flow.http, flow.services, flow.org, make_client, make_user)
    flow.http.cookies.clear()
    other_token = await api_token(other)
    before = await flow.count(AuditEntry)
    for target in (consent_id, uuid.uuid4(), "not-a-uuid"):
        answer = await withdraw(other, target, other_token)
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == 404
    assert await remembered(flow) is not None and len(await ledger(flow)) == 1
    assert await userinfo_status(flow.http, flow.org, tokens["access_token"]) == 200
    assert await flow.count(AuditEntry) == before
    with pytest.raises(withdrawal.ConsentNotFound):
        await withdrawal.withdraw(flow.services.db, flow.org.id, other.user.id, consent_id, how="console")


async def test_the_api_needs_a_valid_token_with_the_consents_scope(flow: Flow, rp: RegisteredClient) -> None:
    tokens = await browser_tokens(flow, rp, SCOPE)
    consent_id = await _consent_id(flow)
    url = f"{flow.base}/consents/{consent_id}"
    missing = await flow.http.delete(url)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer realm=")
    assert "error=" not in missing.headers["www-authenticate"]
    assert missing.headers["content-type"] == "application/problem+json"
    forged = await flow.http.delete(url, headers=bearer(tokens["access_token"][:-4] + "AAAA"))
    assert forged.status_code == 401 and 'error="invalid_token"' in forged.headers["www-authenticate"]
    # The relying party's own token lacks the scope: it cannot withdraw (or read) the user's consents.
    narrow = await flow.http.delete(url, headers=bearer(tokens["access_token"]))
    assert narrow.status_code == 403 and 'scope="consents"' in narrow.headers["www-authenticate"]
    in_query = await flow.http.delete(url, params={"access_token": tokens["access_token"]})
    assert in_query.status_code == 400
    assert await remembered(flow) is not None and len(await ledger(flow)) == 1


async def test_tenant_isolation(
    flow: Flow, rp: RegisteredClient, make_client: MakeClient, make_user: MakeUser
) -> None:
    await browser_tokens(flow, rp, SCOPE)
    consent_id = await _consent_id(flow)
    elsewhere = await organizations.create(
        flow.services.db, flow.services.keyring, f"o-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    with pytest.raises(withdrawal.ConsentNotFound):
        await withdrawal.withdraw(flow.services.db, elsewhere.id, flow.user.id, consent_id, how="api")
    token = await api_token(flow)
    answer = await flow.http.delete(f"/o/{elsewhere.slug}/consents/{consent_id}", headers=bearer(token))
    assert answer.status_code == 401  # this org did not issue the token
    assert await remembered(flow) is not None


async def test_withdrawal_is_as_easy_for_an_implied_grant(flow: Flow, make_client: MakeClient) -> None:
    """A first-party client's implied grant is withdrawn like any other (then it is implied again)."""
    app = with_rp(flow, await first_party(flow, ["openid", "email"]))
    await app.sign_in_and_allow(scope="openid email")
    consent = await remembered(app)
    assert consent is not None
    await withdrawal.withdraw(flow.services.db, flow.org.id, flow.user.id, consent.id, how="console")
    assert "code" in query((await app.authorize(scope="openid email")).headers["location"])
    assert [r.event for r in await ledger(app)] == ["granted", "withdrawn", "granted"]
