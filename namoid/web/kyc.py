"""``{issuer}/account/kyc``: the resident's Aadhaar offline e-KYC page (issue 14).

Until the account console exists (issue 13) this page stands alone. It needs a signed-in
browser session of the org (the session cookie of the org's ordinary sign-in); without one
it answers 401 and says so. GET shows the consent notice, the status and the form; POST
(multipart, CSRF-checked) verifies the upload in memory: the body is read by
``memory_form`` within ``NAMOID_KYC_MAX_UPLOAD_BYTES`` (the body-size middleware applies
the same cap to this path before the app runs), never spooled to a temporary file.
Refusals show the reason class's fixed message, never anything from the file.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from namoid import audit
from namoid.accounts import sessions
from namoid.crypto.certificates import PinnedCertificate
from namoid.kyc import service as kyc
from namoid.kyc import trust
from namoid.kyc.errors import KycRefused
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.storage.repos import kyc as kyc_repo
from namoid.tenancy.resolve import current_org
from namoid.web import limits, memory_form
from namoid.web.cookies import read_session_token
from namoid.web.csrf import csrf_token, csrf_valid
from namoid.web.responses import page, problem, request_pairs

router = APIRouter()
CurrentOrg = Annotated[Organization, Depends(current_org)]
#: The paths whose bodies may exceed NAMOID_MAX_BODY_BYTES (up to the KYC upload cap).
UPLOAD_PATHS = re.compile(r"/o/[^/]+/account/kyc")
MAX_SHARE_CODE = 64


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@lru_cache(maxsize=4)
def _pinned(directory: Path | None) -> tuple[PinnedCertificate, ...]:
    return tuple(trust.pinned_certificates(directory))


def _not_signed_in(request: Request) -> Response:
    return problem(
        request, 401, "Sign in first",
        "This page needs you to be signed in to this organization. Sign in through one of its "
        "applications, then come back to this address.",
    )  # fmt: skip


def _not_offered(request: Request) -> Response:
    return problem(request, 404, "Not offered", "This organization does not offer Aadhaar offline KYC.")


async def _render(
    request: Request,
    org: Organization,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    services = _services(request)
    async with services.db.tenant(org.id) as session:
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), utcnow())
        user = await sessions.signed_in(session, org.id, browser)
        if user is None:
            return _not_signed_in(request)
        policy = await kyc_repo.get_policy(session, org.id)
        if policy is None or not policy.enabled:
            return _not_offered(request)
        record = await kyc_repo.get_record(session, org.id, user.user.id)
        matches = await kyc.verified_name(session, org.id, services.keyring, user.user) is not None
    context = {
        "org_name": org.name,
        "user_email": user.user.email,
        "csrf_token": csrf_token(user.browser),
        "action": f"/o/{org.slug}/account/kyc",
        "withdraw_action": f"/o/{org.slug}/account/kyc/withdraw",
        "record": record,
        "name_matches": matches,
        "error": error,
        "notice": notice,
        "notice_version": kyc.CONSENT_NOTICE,
    }
    return page(request, "kyc.html", context, status_code=status)


@router.get("/account/kyc", include_in_schema=False)
async def kyc_page(request: Request, org: CurrentOrg) -> Response:
    """The consent notice, the current status and the upload form."""
    refused = await limits.ceiling(request, org, "interaction.ip")
    return refused if refused is not None else await _render(request, org)


def _text(fields: dict[str, bytes], name: str) -> str:
    return fields.get(name, b"")[:256].decode("utf-8", "replace")


@router.post("/account/kyc", include_in_schema=False)
async def kyc_upload(request: Request, org: CurrentOrg) -> Response:
    """Verify an uploaded offline e-KYC ZIP (in memory) and keep the masked record."""
    services = _services(request)
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    try:
        body = await memory_form.read_body(request, services.settings.kyc_max_upload_bytes)
        fields = memory_form.parse(body, request.headers.get("content-type"))
    except memory_form.FormRejected:
        return problem(request, 400, "The upload could not be read", "Choose the file again and retry.")
    now = utcnow()
    async with services.db.tenant(org.id) as session:
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        if browser is None or not csrf_valid(browser, _text(fields, "csrf_token")):
            return await limits.refuse_form(session, request, org, browser, "kyc")
        user = await sessions.signed_in(session, org.id, browser)
    if user is None:
        return _not_signed_in(request)
    if _text(fields, "consent") != "yes" or _text(fields, "notice_version") != kyc.CONSENT_NOTICE:
        return await _render(request, org, error="Read the notice, then tick the box to agree.", status=400)
    share_code = _text(fields, "share_code")[:MAX_SHARE_CODE]
    upload = kyc.Upload(fields.pop("file", b""), share_code)
    fields.clear()
    try:
        await kyc.verify_upload(
            services.db, services.keyring, _pinned(services.settings.kyc_uidai_certs_dir),
            org.id, user.user.id, upload, audit.Actor("user", str(user.user.id)), now,
        )  # fmt: skip
    except KycRefused as refused_upload:
        if refused_upload.reason == "disabled":
            return _not_offered(request)
        return await _render(request, org, error=refused_upload.message, status=400)
    return await _render(request, org, notice="Verified. Only the masked record above was kept.")


@router.post("/account/kyc/withdraw", include_in_schema=False)
async def kyc_withdraw(request: Request, org: CurrentOrg) -> Response:
    """Erase the user's KYC record (withdrawal of consent), audited as ``kyc.erased``."""
    form = dict(await request_pairs(request))
    services = _services(request)
    now = utcnow()
    async with services.db.tenant(org.id) as session:
        browser = await sessions.find(session, org.id, read_session_token(request, org.slug), now)
        if browser is None or not csrf_valid(browser, form.get("csrf_token", "")):
            return await limits.refuse_form(session, request, org, browser, "kyc_withdraw")
        user = await sessions.signed_in(session, org.id, browser)
        if user is None:
            return _not_signed_in(request)
        erased = await kyc.erase_in(session, org.id, user.user.id, audit.Actor("user", str(user.user.id)))
    notice = "Your verification was removed." if erased else "There was no verification to remove."
    return await _render(request, org, notice=notice)
