"""The console's "Your data" section (issue 13): ask for an export behind a step-up and CSRF,
download it once through its link, read the summary; every refusal changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from namoid.app import create_public_app
from namoid.privacy import export, export_jobs
from namoid.privacy.sections import SECTIONS
from namoid.services import Services
from namoid.storage.models import DataExport, Organization, utcnow
from tests.features.account.conftest import ConsoleBrowser
from tests.features.conftest import MakeUser
from tests.features.privacy.conftest import Principal
from tests.json_schema_subset import errors


async def _exports(services: Services, org: Organization) -> list[tuple[str, bool]]:
    async with services.db.tenant(org.id) as session:
        rows = await session.scalars(select(DataExport).where(DataExport.org_id == org.id))
        return [(row.status, row.payload_enc is not None) for row in rows]


async def test_a_user_exports_their_data_from_the_console(
    http: httpx.AsyncClient, services: Services, principal: Principal
) -> None:
    org = principal.org
    http.cookies.clear()
    console = ConsoleBrowser(http, services, org, principal.user)
    fields = await console.form("/data")
    asked = await console.post("/data", fields | {"do": "export"})
    assert asked.status_code == 200 and "being prepared" in asked.text
    again = await console.post("/data", fields | {"do": "export"})
    assert again.status_code == 409 and "already being prepared" in again.text
    assert await _exports(services, org) == [("pending", False)]

    await export_jobs.produce_pending(services.db, services.keyring, org, utcnow())
    page = await console.open("/data")
    assert "Download your data" in page.text
    minted = await console.post("/data", fields | {"do": "download"})
    assert minted.status_code == 303
    link = minted.headers["location"]
    assert link.startswith(f"/o/{org.slug}/account/data/download/")

    downloaded = await http.get(link)
    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"] == "application/json"
    assert downloaded.headers["content-disposition"].startswith("attachment; filename=")
    assert downloaded.headers["cache-control"] == "no-store"
    document = json.loads(downloaded.content)
    assert errors(document, json.loads(export.SCHEMA_FILE.read_text())) == []
    assert document["sections"]["account"]["contacts"][0]["value"] == principal.user.email
    assert await _exports(services, org) == [("downloaded", False)]

    reused = await http.get(link)
    assert reused.status_code == 410 and "already used" in reused.text
    assert await _exports(services, org) == [("downloaded", False)]


async def test_refusals_change_nothing(
    http: httpx.AsyncClient, services: Services, org: Organization, make_user: MakeUser
) -> None:
    owner = ConsoleBrowser(http, services, org, await make_user())
    fields = await owner.form("/data")

    forged = await owner.post("/data", fields | {"do": "export", "csrf_token": "forged"})
    assert forged.status_code == 403
    await owner.age_sign_in(3600)
    stale = await owner.post("/data", fields | {"do": "export"})
    assert stale.status_code == 403 and "max_age" in stale.text
    assert await _exports(services, org) == []
    await owner.age_sign_in(0)
    unknown = await owner.post("/data", fields | {"do": "nothing"})
    assert unknown.status_code == 400 and await _exports(services, org) == []
    early = await owner.post("/data", fields | {"do": "download"})
    assert early.status_code == 409 and await _exports(services, org) == []

    # Another user, signed in in another browser, cannot use the owner's link.
    await owner.post("/data", fields | {"do": "export"})
    await export_jobs.produce_pending(services.db, services.keyring, org, utcnow())
    link = (await owner.post("/data", fields | {"do": "download"})).headers["location"]
    transport = httpx.ASGITransport(app=create_public_app(services), client=("203.0.113.8", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.base_url) as other_http:
        other = ConsoleBrowser(other_http, services, org, await make_user())
        await other.open("/data")
        foreign = await other_http.get(link)
    assert foreign.status_code == 404 and "not valid" in foreign.text
    assert await _exports(services, org) == [("ready", True)]

    # An expired link: refused; the document stays for a new link.
    async with services.db.tenant(org.id) as session:
        await session.execute(
            update(DataExport).values(link_expires_at=utcnow() - timedelta(seconds=1))
            .where(DataExport.org_id == org.id)
        )  # fmt: skip
    expired = await http.get(link)
    assert expired.status_code == 410 and "expired" in expired.text
    assert await _exports(services, org) == [("ready", True)]


async def test_the_summary_shows_every_section_and_no_secret(
    http: httpx.AsyncClient, services: Services, principal: Principal
) -> None:
    http.cookies.clear()
    console = ConsoleBrowser(http, services, principal.org, principal.user)
    page = await console.open("/data/summary")
    assert page.status_code == 200
    for section in SECTIONS:
        assert f">{section.title}</h2>" in page.text
    assert principal.user.email in page.text and principal.connection.subject in page.text
    for secret in principal.secrets:
        assert secret not in page.text
    assert "$argon2" not in page.text
