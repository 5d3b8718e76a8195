"""``{issuer}/account/kyc``: consent notice, signed-in upload (multipart, CSRF), body caps,
withdrawal; SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import select

from namoid.services import Services
from namoid.storage.models import AuditEntry, KycRecord, Organization
from tests import kyc_fixtures as fx
from tests.features.authorize.conftest import Flow, form_inputs


async def records(services: Services, org: Organization) -> list[KycRecord]:
    async with services.db.tenant(org.id) as session:
        return list(await session.scalars(select(KycRecord).where(KycRecord.org_id == org.id)))


async def kyc_actions(services: Services, org: Organization) -> list[str]:
    async with services.db.tenant(org.id) as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.org_id == org.id, AuditEntry.action.like("kyc.%"))
        )
        return list(rows)


async def upload(flow: Flow, data: bytes, share_code: str = fx.SHARE_CODE, **extra: str) -> httpx.Response:
    page = await flow.http.get(f"{flow.base}/account/kyc")
    assert page.status_code == 200, page.text
    inputs = form_inputs(page.text)
    fields = {name: inputs[name] for name in ("csrf_token", "notice_version")}
    fields |= {"share_code": share_code, "consent": "yes"}
    fields |= extra
    files = {"file": ("offlineaadhaar.zip", data, "application/zip")}
    return await flow.http.post(f"{flow.base}/account/kyc", data=fields, files=files)


async def test_the_page_is_part_of_the_console(http: httpx.AsyncClient, kyc_org: Organization) -> None:
    """Without a console session: a GET goes to the console's sign-in and back, a POST is refused."""
    response = await http.get(f"/o/{kyc_org.slug}/account/kyc")
    assert response.status_code == 303
    assert (
        response.headers["location"]
        == f"/o/{kyc_org.slug}/account/signin?next=%2Fo%2F{kyc_org.slug}%2Faccount%2Fkyc"
    )
    refused = await http.post(f"/o/{kyc_org.slug}/account/kyc/withdraw", data={"csrf_token": "x"})
    assert refused.status_code == 401 and "Sign in first" in refused.text


async def test_the_console_lists_the_page(signed_in: Flow) -> None:
    overview = await signed_in.http.get(f"{signed_in.base}/account")
    assert f'href="{signed_in.base}/account/kyc"' in overview.text


async def test_the_page_shows_the_consent_notice(signed_in: Flow) -> None:
    page = await signed_in.http.get(f"{signed_in.base}/account/kyc")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    promises = ("Purpose.", "What we keep.", "How to withdraw.", "never a condition of using your account")
    for promise in promises:
        assert promise in page.text


async def test_an_org_without_kyc_does_not_offer_it(signed_in: Flow, services: Services) -> None:
    from namoid.kyc import service as kyc
    from tests.features.conftest import ADMIN

    await kyc.set_policy(services.db, signed_in.org.id, False, None, ADMIN)
    assert (await signed_in.http.get(f"{signed_in.base}/account/kyc")).status_code == 404


async def test_a_synthetic_upload_is_verified_then_withdrawn(signed_in: Flow, services: Services) -> None:
    response = await upload(signed_in, fx.upload())
    assert response.status_code == 200, response.text
    assert "Verified." in response.text and "ending in" in response.text
    assert fx.NAME not in response.text
    [row] = await records(services, signed_in.org)
    assert row.user_id == signed_in.user.id and row.last4 == fx.LAST4
    token = form_inputs(response.text)["csrf_token"]
    withdraw = await signed_in.http.post(f"{signed_in.base}/account/kyc/withdraw", data={"csrf_token": token})
    assert withdraw.status_code == 200 and "removed" in withdraw.text
    assert await records(services, signed_in.org) == []
    assert await kyc_actions(services, signed_in.org) == ["kyc.started", "kyc.verified", "kyc.erased"]


async def test_a_refused_upload_says_why_and_stores_nothing(signed_in: Flow, services: Services) -> None:
    response = await upload(signed_in, fx.upload(), share_code="0000")
    assert response.status_code == 400
    assert "share code does not open this file" in response.text
    assert await records(services, signed_in.org) == []


async def test_without_the_csrf_token_nothing_is_checked(signed_in: Flow, services: Services) -> None:
    files = {"file": ("x.zip", fx.upload(), "application/zip")}
    response = await signed_in.http.post(
        f"{signed_in.base}/account/kyc", data={"share_code": fx.SHARE_CODE, "consent": "yes"}, files=files
    )
    assert response.status_code == 403
    assert await records(services, signed_in.org) == []
    assert await kyc_actions(services, signed_in.org) == []


async def test_consent_must_be_ticked(signed_in: Flow, services: Services) -> None:
    for missing in ({"consent": ""}, {"notice_version": "okyc-notice-v0"}):  # unticked, or an older notice
        response = await upload(signed_in, fx.upload(), **missing)
        assert response.status_code == 400
        assert "tick the box to agree" in response.text
    assert await records(services, signed_in.org) == []


async def test_an_upload_above_the_general_body_cap_is_accepted_on_this_route(
    signed_in: Flow, services: Services
) -> None:
    """A ZIP with a ~150 KB photo passes (NAMOID_MAX_BODY_BYTES is 64 KiB); /login still caps at 64 KiB."""
    big = fx.upload(fx.Person(photo=fx.PHOTO + os.urandom(150 * 1024)))  # incompressible
    assert len(big) > 100 * 1024
    response = await upload(signed_in, big)
    assert response.status_code == 200, response.text
    login = await signed_in.http.post(f"{signed_in.base}/login", content=b"x" * (100 * 1024))
    assert login.status_code == 413


async def _twenty_megabytes(sent: list[int]) -> AsyncIterator[bytes]:
    for _ in range(20 * 16):
        sent.append(64 * 1024)
        yield b"\0" * (64 * 1024)


async def test_a_20_mb_upload_is_refused_by_the_cap_before_it_is_read(
    signed_in: Flow, services: Services
) -> None:
    url = f"{signed_in.base}/account/kyc"
    declared = await signed_in.http.post(
        url, content=b"\0" * (20 * 1024 * 1024), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert declared.status_code == 413
    sent: list[int] = []
    streamed = await signed_in.http.post(
        url, content=_twenty_megabytes(sent), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert streamed.status_code == 413
    assert sum(sent) <= services.settings.kyc_max_upload_bytes + 128 * 1024  # cut off at the cap
    assert await kyc_actions(services, signed_in.org) == []
    assert await records(services, signed_in.org) == []
