"""``{issuer}/account/kyc``: the resident's Aadhaar offline e-KYC page (issue 14), a section
of the account console (namoid.web.account).

Without a console session a GET goes through the console's sign-in and comes back; a POST
is refused (``console_auth``). GET shows the consent notice, the status and the form; POST
(multipart, CSRF-checked) verifies the upload in memory: the body is read by
``memory_form`` within ``NAMOID_KYC_MAX_UPLOAD_BYTES`` (the body-size middleware applies
the same cap to this path before the app runs), never spooled to a temporary file.
Refusals show the reason class's fixed message, never anything from the file.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

from namoid.crypto.certificates import PinnedCertificate
from namoid.kyc import service as kyc
from namoid.kyc import trust
from namoid.kyc.errors import KycRefused
from namoid.services import Services
from namoid.storage.models import utcnow
from namoid.storage.repos import kyc as kyc_repo
from namoid.web import limits, memory_form
from namoid.web.account.console_auth import Console, ConsoleSession, ConsoleUser, console_page
from namoid.web.csrf import csrf_valid
from namoid.web.responses import problem

router = APIRouter()
#: The paths whose bodies may exceed NAMOID_MAX_BODY_BYTES (up to the KYC upload cap): this
#: page and the org API (``namoid.web.kyc_api``).
UPLOAD_PATHS = re.compile(r"/o/[^/]+/(?:account/kyc|kyc/offline-ekyc)")
MAX_SHARE_CODE = 64


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@lru_cache(maxsize=4)
def pinned(directory: Path | None) -> tuple[PinnedCertificate, ...]:
    return tuple(trust.pinned_certificates(directory))


def _not_offered(request: Request, console: Console) -> Response:
    context = {"title": "Not offered", "message": "This organization does not offer Aadhaar offline KYC."}
    return console_page(request, console, "account_message.html", context, status_code=404)


async def _render(
    request: Request,
    console: Console,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    services = _services(request)
    org, user = console.org, console.user
    async with services.db.tenant(org.id) as session:
        policy = await kyc_repo.get_policy(session, org.id)
        if policy is None or not policy.enabled:
            return _not_offered(request, console)
        record = await kyc_repo.get_record(session, org.id, user.id)
        matches = await kyc.verified_name(session, org.id, services.keyring, user) is not None
    context = {
        "action": f"/o/{org.slug}/account/kyc",
        "withdraw_action": f"/o/{org.slug}/account/kyc/withdraw",
        "record": record,
        "name_matches": matches,
        "error": error,
        "notice": notice,
        "notice_version": kyc.CONSENT_NOTICE,
    }
    return console_page(request, console, "kyc.html", context, status_code=status)


@router.get("/account/kyc", include_in_schema=False)
async def kyc_page(request: Request, console: ConsoleUser) -> Response:
    """The consent notice, the current status and the upload form."""
    return await _render(request, console)


def _text(fields: dict[str, bytes], name: str) -> str:
    return fields.get(name, b"")[:256].decode("utf-8", "replace")


def take_upload(fields: dict[str, bytes]) -> kyc.Upload:
    """The upload (file and share code) out of the parsed form, which is emptied."""
    upload = kyc.Upload(fields.pop("file", b""), _text(fields, "share_code")[:MAX_SHARE_CODE])
    fields.clear()
    return upload


@router.post("/account/kyc", include_in_schema=False)
async def kyc_upload(request: Request, console: ConsoleSession) -> Response:
    """Verify an uploaded offline e-KYC ZIP (in memory) and keep the masked record."""
    services, org = _services(request), console.org
    try:
        body = await memory_form.read_body(request, services.settings.kyc_max_upload_bytes)
        fields = memory_form.parse(body, request.headers.get("content-type"))
    except memory_form.FormRejected:
        return problem(request, 400, "The upload could not be read", "Choose the file again and retry.")
    if not csrf_valid(console.browser, _text(fields, "csrf_token")):
        async with services.db.tenant(org.id) as session:
            return await limits.refuse_form(session, request, org, console.browser, "kyc")
    if _text(fields, "consent") != "yes" or _text(fields, "notice_version") != kyc.CONSENT_NOTICE:
        return await _render(
            request, console, error="Read the notice, then tick the box to agree.", status=400
        )
    upload = take_upload(fields)
    try:
        await kyc.verify_upload(
            services.db, services.keyring, pinned(services.settings.kyc_uidai_certs_dir),
            org.id, console.user.id, upload, console.actor, utcnow(),
        )  # fmt: skip
    except KycRefused as refused_upload:
        if refused_upload.reason == "disabled":
            return _not_offered(request, console)
        return await _render(request, console, error=refused_upload.message, status=400)
    return await _render(request, console, notice="Verified. Only the masked record above was kept.")


@router.post("/account/kyc/withdraw", include_in_schema=False)
async def kyc_withdraw(request: Request, console: ConsoleUser) -> Response:
    """Erase the user's KYC record (withdrawal of consent), audited as ``kyc.erased``."""
    async with _services(request).db.tenant(console.org.id) as session:
        erased = await kyc.erase_in(session, console.org.id, console.user.id, console.actor)
    notice = "Your verification was removed." if erased else "There was no verification to remove."
    return await _render(request, console, notice=notice)
