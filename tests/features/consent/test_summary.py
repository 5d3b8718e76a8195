"""What the user can see: connected applications, consent history, receipts, access summary (s.11)."""

from __future__ import annotations

import uuid

import pytest

from namoid.privacy import receipts, relying_parties, withdrawal
from namoid.tenancy.resolve import issuer_for
from tests.features.authorize.conftest import REDIRECT_URI, Flow
from tests.features.conftest import MakeClient, RegisteredClient
from tests.features.consent.conftest import api_token, bearer, remembered
from tests.features.revocation.conftest import browser_tokens
from tests.features.token.conftest import FULL_SCOPES

SCOPE = "openid email offline_access"


@pytest.fixture
async def rp(flow: Flow, make_client: MakeClient) -> RegisteredClient:
    client = await make_client(
        name="Shop", redirect_uris=[REDIRECT_URI], grant_types=["authorization_code", "refresh_token"],
        scopes=FULL_SCOPES,
    )  # fmt: skip
    flow.rp = client
    return client


async def test_connected_applications_and_access_summary(flow: Flow, rp: RegisteredClient) -> None:
    await browser_tokens(flow, rp, SCOPE)
    await browser_tokens(flow, rp, "openid email")  # remembered: a second release, same consent
    consent = await remembered(flow)
    assert consent is not None
    db, org_id, user_id = flow.services.db, flow.org.id, flow.user.id

    [app] = await relying_parties.connected_applications(db, org_id, user_id)
    assert (app["consent_id"], app["client_name"], app["status"]) == (str(consent.id), "Shop", "active")
    assert app["scopes"] == ["openid", "email", "offline_access"]
    assert app["claims"] == ["sub", "email", "email_verified"]
    assert app["first_issued_at"] is not None and app["last_issued_at"] >= app["first_issued_at"]

    [party] = await relying_parties.access_summary(db, org_id, user_id)
    assert party["client_name"] == "Shop" and len(party["releases"]) == 2
    first, second = party["releases"]
    assert first["consent_id"] == second["consent_id"] == str(consent.id)
    assert first["claims"] == ["sub", "email", "email_verified"] and second["scopes"] == ["openid", "email"]
    assert first["notice_version"] == "default-1" and first["grant"] == "authorization_code"
    assert [c["event"] for c in party["consents"]] == ["granted"]

    await withdrawal.withdraw(db, org_id, user_id, consent.id, how="console")
    assert await relying_parties.connected_applications(db, org_id, user_id) == []
    [party] = await relying_parties.access_summary(db, org_id, user_id)
    assert [c["event"] for c in party["consents"]] == ["granted", "withdrawn"]
    assert len(party["releases"]) == 2  # what was shared stays on the record
    history = await relying_parties.consent_history(db, org_id, user_id)
    assert [(h["counterparty_name"], h["event"]) for h in history] == [
        ("Shop", "granted"),
        ("Shop", "withdrawn"),
    ]


async def test_receipt_is_a_kantara_style_record_of_the_grant(flow: Flow, rp: RegisteredClient) -> None:
    await browser_tokens(flow, rp, SCOPE)
    consent = await remembered(flow)
    assert consent is not None
    issuer = issuer_for(flow.services.settings.base_url, flow.org.slug)
    receipt = await receipts.receipt(flow.services.db, flow.org, issuer, flow.user.id, consent.id)
    assert receipt["version"] == "KI-CR-v1.1.0" and receipt["jurisdiction"] == "IN"
    assert receipt["piiPrincipalId"] == str(flow.user.id) and receipt["language"] == "en"
    assert receipt["consentReceiptID"].startswith(f"{consent.id}.")
    assert receipt["piiControllers"][0]["piiController"] == "Test Org"
    assert receipt["policyUrl"] == f"{issuer}/notice?lang=en"
    [service] = receipt["services"]
    assert service["service"] == "Shop"
    purposes = {p["purposeCategory"][0]: p for p in service["purposes"]}
    assert set(purposes) == {"sign_in", "share_profile", "access_while_away"}
    assert purposes["sign_in"]["consentType"] == "EXPLICIT" and purposes["sign_in"]["primaryPurpose"] is True
    assert purposes["share_profile"]["piiCategory"] == ["sub", "email", "email_verified"]
    assert purposes["share_profile"]["thirdPartyName"] == "Shop"
    extra = receipt["namoid"]
    assert extra["notice_version"] == "default-1" and len(extra["notice_sha256"]) == 64
    assert (extra["action"], extra["status"], extra["ip"]) == ("clicked_allow", "active", "203.0.113.7")
    assert isinstance(receipt["consentTimestamp"], int)

    token = await api_token(flow)
    download = await flow.http.get(f"{flow.base}/consents/{consent.id}/receipt", headers=bearer(token))
    assert download.status_code == 200 and download.json() == receipt
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == "no-store"

    await withdrawal.withdraw(flow.services.db, flow.org.id, flow.user.id, consent.id, how="console")
    after = await receipts.receipt(flow.services.db, flow.org, issuer, flow.user.id, consent.id)
    assert after["namoid"]["status"] == "withdrawn" and after["namoid"]["withdrawn_at"]
    with pytest.raises(withdrawal.ConsentNotFound):
        await receipts.receipt(flow.services.db, flow.org, issuer, uuid.uuid4(), consent.id)
    missing = await flow.http.get(f"{flow.base}/consents/{uuid.uuid4()}/receipt", headers=bearer(token))
    assert missing.status_code == 404
