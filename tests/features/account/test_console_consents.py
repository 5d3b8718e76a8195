"""The console's consent sections: connected applications (withdraw in one click), history, access."""

from __future__ import annotations

import secrets

import pytest

from namoid.storage.models import AuditEntry
from tests.features.account.conftest import ConsoleBrowser
from tests.features.authorize.conftest import REDIRECT_URI, Flow, form_inputs, pkce_pair
from tests.features.conftest import MakeClient, MakeUser, RegisteredClient
from tests.features.consent.conftest import ledger, remembered
from tests.features.revocation.conftest import browser_tokens, userinfo_status
from tests.features.token.conftest import FULL_SCOPES

SCOPE = "openid email offline_access"


@pytest.fixture
async def rp_flow(console: ConsoleBrowser, make_client: MakeClient) -> Flow:
    """The console's user holding a consent to the relying party "Shop", with its tokens issued."""
    rp: RegisteredClient = await make_client(
        name="Shop", redirect_uris=[REDIRECT_URI], grant_types=["authorization_code", "refresh_token"],
        scopes=FULL_SCOPES,
    )  # fmt: skip
    verifier, challenge = pkce_pair()
    return Flow(console.http, console.services, console.org, rp, console.user, verifier, challenge)


async def test_withdraw_in_one_click(console: ConsoleBrowser, rp_flow: Flow) -> None:
    tokens = await browser_tokens(rp_flow, rp_flow.rp, SCOPE)
    consent = await remembered(rp_flow)
    assert consent is not None
    page = await console.open("/applications")
    assert page.status_code == 200 and "Shop" in page.text and "email_verified" in page.text
    assert f"/consents/{consent.id}/receipt" in page.text
    fields = form_inputs(page.text)
    assert f'name="consent" value="{consent.id}"' in page.text
    done = await console.post("/applications/withdraw", fields | {"consent": str(consent.id)})
    assert done.status_code == 200 and "Access withdrawn" in done.text
    assert await userinfo_status(rp_flow.http, rp_flow.org, tokens["access_token"]) == 401
    granted, withdrawn = await ledger(rp_flow)
    assert (granted.event, withdrawn.event, withdrawn.action) == ("granted", "withdrawn", "console")
    again = await console.post("/applications/withdraw", fields | {"consent": str(consent.id)})
    assert again.status_code == 200 and "already ended" in again.text
    assert len(await ledger(rp_flow)) == 2


async def test_a_forged_form_changes_nothing(console: ConsoleBrowser, rp_flow: Flow) -> None:
    await browser_tokens(rp_flow, rp_flow.rp, SCOPE)
    consent = await remembered(rp_flow)
    assert consent is not None
    fields = await console.form("/applications")
    forged = await console.post(
        "/applications/withdraw",
        fields | {"consent": str(consent.id), "csrf_token": secrets.token_urlsafe(32)},
    )
    assert forged.status_code == 403
    missing = await console.post("/applications/withdraw", {"consent": str(consent.id)})
    assert missing.status_code == 403
    assert await remembered(rp_flow) is not None and len(await ledger(rp_flow)) == 1


async def test_someone_elses_consent_is_refused(
    console: ConsoleBrowser, rp_flow: Flow, make_user: MakeUser
) -> None:
    await browser_tokens(rp_flow, rp_flow.rp, SCOPE)
    consent = await remembered(rp_flow)
    assert consent is not None
    console.http.cookies.clear()
    intruder = ConsoleBrowser(console.http, console.services, console.org, await make_user())
    fields = await intruder.form("/applications")
    entries = await rp_flow.count(AuditEntry)
    refused = await intruder.post("/applications/withdraw", fields | {"consent": str(consent.id)})
    assert refused.status_code == 404 and "Shop" not in refused.text
    receipt = await intruder.open(f"/consents/{consent.id}/receipt")
    assert receipt.status_code == 404
    assert await remembered(rp_flow) is not None and await rp_flow.count(AuditEntry) == entries


async def test_history_receipts_and_access_summary(console: ConsoleBrowser, rp_flow: Flow) -> None:
    await browser_tokens(rp_flow, rp_flow.rp, SCOPE)
    consent = await remembered(rp_flow)
    assert consent is not None
    history = await console.open("/consents")
    assert history.status_code == 200 and "Shop" in history.text and "consent given" in history.text
    receipt = await console.open(f"/consents/{consent.id}/receipt")
    assert receipt.status_code == 200 and receipt.json()["services"][0]["service"] == "Shop"
    assert receipt.headers["content-disposition"].startswith("attachment;")
    access = await console.open("/access")
    assert access.status_code == 200 and "Shop" in access.text and "email_verified" in access.text
    assert str(consent.id) in access.text
    nav = await console.open()
    for label in ("Connected applications", "Consent history", "Access summary"):
        assert label in nav.text
