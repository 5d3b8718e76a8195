"""``POST {issuer}/kyc/offline-ekyc``: a relying party uploads the user's offline e-KYC file
with the user's ``kyc``-scoped access token (issue 14 §1, the org API); SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from namoid.kyc import service as kyc
from namoid.kyc.errors import MESSAGES
from namoid.services import Services
from namoid.storage.models import AuditEntry, Organization
from namoid.tenancy import organizations
from tests import kyc_fixtures as fx
from tests.features.authorize.conftest import Flow
from tests.features.conftest import ADMIN
from tests.features.kyc.test_upload_page import _twenty_megabytes, records
from tests.features.revocation.conftest import browser_tokens

SCOPE_LINE = "Submit your Aadhaar offline e-KYC file for verification"


async def kyc_token(flow: Flow, scope: str = "openid kyc") -> str:
    return (await browser_tokens(flow, flow.rp, scope))["access_token"]


async def api_upload(
    flow: Flow, token: str | None, data: bytes, share_code: str = fx.SHARE_CODE, slug: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    files = {"file": ("offlineaadhaar.zip", data, "application/zip")}
    url = f"/o/{slug or flow.org.slug}/kyc/offline-ekyc"
    return await flow.http.post(url, data={"share_code": share_code}, files=files, headers=headers)


async def kyc_audit(services: Services, org: Organization) -> list[AuditEntry]:
    async with services.db.tenant(org.id) as session:
        query = select(AuditEntry).where(AuditEntry.org_id == org.id, AuditEntry.action.like("kyc.%"))
        return list(await session.scalars(query.order_by(AuditEntry.seq)))


async def test_the_consent_screen_describes_the_kyc_scope_with_the_notice(user_flow: Flow) -> None:
    login_page = await user_flow.follow(await user_flow.authorize(scope="openid kyc"))
    consent_page = await user_flow.follow(await user_flow.login(login_page))
    assert consent_page.status_code == 200, consent_page.text
    assert SCOPE_LINE in consent_page.text
    assert 'id="kyc-consent-notice"' in consent_page.text
    promises = ("Purpose.", "What we keep.", "How to withdraw.", "never a condition of using your account")
    for promise in promises:
        assert promise in consent_page.text
    assert f'href="{user_flow.base}/account/kyc"' in consent_page.text


async def test_a_relying_party_uploads_for_the_user(user_flow: Flow, services: Services) -> None:
    """A ZIP with a ~150 KB photo: above NAMOID_MAX_BODY_BYTES (64 KiB), within the KYC cap."""
    token = await kyc_token(user_flow)
    big = fx.upload(fx.Person(photo=fx.PHOTO + os.urandom(150 * 1024)))  # incompressible
    assert len(big) > 100 * 1024
    response = await api_upload(user_flow, token, big)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"result", "last4", "signer_standing", "generated_at", "verified_at"}
    assert body["result"] == "valid" and body["last4"] == fx.LAST4
    assert body["signer_standing"] == "in_validity"
    assert fx.NAME not in response.text and fx.NAME.casefold() not in response.text.casefold()
    [record] = await records(services, user_flow.org)
    assert record.user_id == user_flow.user.id and record.last4 == body["last4"]
    entries = await kyc_audit(services, user_flow.org)
    assert [e.action for e in entries] == ["kyc.started", "kyc.verified"]
    for entry in entries:
        assert (entry.actor_type, entry.actor_id) == ("user", str(user_flow.user.id))
        assert entry.detail["client_id"] == user_flow.rp.client_id
    async with services.db.tenant(user_flow.org.id) as session:
        verified = await kyc.verified_name(session, user_flow.org.id, services.keyring, user_flow.user)
    assert verified is not None


async def test_a_token_without_the_kyc_scope_is_403(user_flow: Flow, services: Services) -> None:
    token = await kyc_token(user_flow, "openid profile")
    response = await api_upload(user_flow, token, fx.upload())
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="kyc"' in response.headers["www-authenticate"]
    assert await records(services, user_flow.org) == []
    assert await kyc_audit(services, user_flow.org) == []


async def test_no_token_or_a_bad_one_is_401(user_flow: Flow, services: Services) -> None:
    missing = await api_upload(user_flow, None, fx.upload())
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer realm=")
    assert missing.json()["status"] == 401
    forged = await api_upload(user_flow, "not-a-token", fx.upload())
    assert forged.status_code == 401 and 'error="invalid_token"' in forged.headers["www-authenticate"]
    token = await kyc_token(user_flow)
    in_query = await user_flow.http.post(
        f"{user_flow.base}/kyc/offline-ekyc", params={"access_token": token},
        data={"share_code": fx.SHARE_CODE}, files={"file": ("a.zip", fx.upload(), "application/zip")},
    )  # fmt: skip
    assert in_query.status_code == 400 and 'error="invalid_request"' in in_query.headers["www-authenticate"]
    assert await records(services, user_flow.org) == []


async def test_another_orgs_token_is_401(user_flow: Flow, services: Services) -> None:
    token = await kyc_token(user_flow)
    elsewhere = await organizations.create(
        services.db, services.keyring, f"o-{uuid.uuid4().hex[:8]}", None, ADMIN
    )
    await kyc.set_policy(services.db, elsewhere.id, True, 3, ADMIN)
    response = await api_upload(user_flow, token, fx.upload(), slug=elsewhere.slug)
    assert response.status_code == 401, response.text
    assert await records(services, elsewhere) == [] and await records(services, user_flow.org) == []


async def test_an_org_without_kyc_answers_404(user_flow: Flow, services: Services) -> None:
    token = await kyc_token(user_flow)
    await kyc.set_policy(services.db, user_flow.org.id, False, None, ADMIN)
    response = await api_upload(user_flow, token, fx.upload())
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await records(services, user_flow.org) == []


@pytest.mark.parametrize(
    ("case", "zip_bytes", "share_code"),
    [
        ("wrong share code", fx.upload, "9999"),
        ("tampered", lambda: fx.zipcrypto(fx.signed_xml().replace(b"Kumari", b"Kumaro")), fx.SHARE_CODE),
        ("not a zip", lambda: b"this is not a zip", fx.SHARE_CODE),
    ],
)
async def test_a_refused_file_is_422_and_stores_nothing(
    user_flow: Flow, services: Services, case: str, zip_bytes: Callable[[], bytes], share_code: str
) -> None:
    token = await kyc_token(user_flow)
    response = await api_upload(user_flow, token, zip_bytes(), share_code)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] in MESSAGES.values()
    assert fx.NAME not in response.text
    assert await records(services, user_flow.org) == []
    failed = [e for e in await kyc_audit(services, user_flow.org) if e.action == "kyc.failed"]
    assert len(failed) == 1 and failed[0].detail["client_id"] == user_flow.rp.client_id
    assert MESSAGES[failed[0].detail["reason"]] == body["detail"]


async def test_an_unreadable_form_is_400(user_flow: Flow, services: Services) -> None:
    token = await kyc_token(user_flow)
    response = await user_flow.http.post(
        f"{user_flow.base}/kyc/offline-ekyc", data={"share_code": fx.SHARE_CODE},
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.status_code == 400, response.text
    assert await records(services, user_flow.org) == []


async def test_a_20_mb_upload_is_refused_before_it_is_read(user_flow: Flow, services: Services) -> None:
    token = await kyc_token(user_flow)
    headers = {"Content-Type": "multipart/form-data; boundary=x", "Authorization": f"Bearer {token}"}
    url = f"{user_flow.base}/kyc/offline-ekyc"
    declared = await user_flow.http.post(url, content=b"\0" * (20 * 1024 * 1024), headers=headers)
    assert declared.status_code == 413
    sent: list[int] = []
    streamed = await user_flow.http.post(url, content=_twenty_megabytes(sent), headers=headers)
    assert streamed.status_code == 413
    assert sum(sent) <= services.settings.kyc_max_upload_bytes + 128 * 1024  # cut off at the cap
    assert await kyc_audit(services, user_flow.org) == []
    assert await records(services, user_flow.org) == []


async def test_a_users_uploads_are_limited_per_user(user_flow: Flow, services: Services) -> None:
    """``kyc.api.user`` counts each user's uploads, whichever IP or client sends them."""
    from namoid.ratelimit.limiter import Limiter

    token = await kyc_token(user_flow)
    await services.limiter.close()
    services.limiter = Limiter(overrides={"kyc.api.user": "2/hour"}, redis_url=None)
    answers = [(await api_upload(user_flow, token, b"not a zip")).status_code for _ in range(3)]
    assert answers == [422, 422, 429]
    refused = await api_upload(user_flow, token, b"not a zip")
    assert refused.headers["ratelimit-policy"].startswith('"kyc.api.user";')
    assert refused.headers["content-type"] == "application/problem+json"
    failed = [e for e in await kyc_audit(services, user_flow.org) if e.action == "kyc.failed"]
    assert len(failed) == 2
