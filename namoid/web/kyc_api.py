"""``POST {issuer}/kyc/offline-ekyc``: the org API for Aadhaar offline e-KYC (issue 14 §1).

A relying party uploads the user's Offline e-KYC ZIP and share code (multipart/form-data,
RFC 7578: ``file``, ``share_code``) with the user's own Bearer access token (RFC 6750 §2.1)
carrying the ``kyc`` scope: the user consented on NamoID's consent screen, which shows the
KYC notice for that scope. The upload goes through the same service as the console page
(``kyc.service.verify_upload``), read in memory by ``memory_form`` within
``NAMOID_KYC_MAX_UPLOAD_BYTES`` (the body-size middleware caps this path alike, before the
app runs), never spooled to disk; the audit entries name the user and, in detail, the client.

Answers: 201 with the masked record (never the name or anything else from the file); 422
with the refusal's fixed reason-class message; 404 when the org does not offer KYC; 400 for
an unreadable form; 401/403 with the RFC 6750 §3 challenge; 429 from ``kyc.api.ip`` (before
the token is checked) or ``kyc.api.user``. Errors are RFC 9457 problem JSON.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from namoid import audit
from namoid.kyc import service as kyc
from namoid.kyc.errors import KycRefused
from namoid.ratelimit.keys import request_ip
from namoid.services import Services
from namoid.storage.models import KycRecord, Organization, utcnow
from namoid.tenancy.resolve import current_org
from namoid.web import bearer_api, memory_form
from namoid.web.account.kyc import pinned, take_upload
from namoid.web.bearer_api import NO_STORE, problem_json

router = APIRouter()
OrgParam = Annotated[Organization, Depends(current_org)]
SCOPE: Final = "kyc"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def summary(record: KycRecord) -> dict[str, str]:
    """The masked record, as the console shows it: no name, nothing else from the file."""
    return {
        "result": record.result,
        "last4": record.last4,
        "signer_standing": record.signer_standing,
        "generated_at": record.generated_at.isoformat(),
        "verified_at": record.verified_at.isoformat(),
    }


def _not_offered() -> JSONResponse:
    return problem_json(404, "Not offered", "This organization does not offer Aadhaar offline KYC.")


@router.post("/kyc/offline-ekyc", status_code=201)
async def offline_ekyc(request: Request, org: OrgParam) -> Response:
    """Verify the user's offline e-KYC upload in memory and keep the masked record."""
    services = _services(request)
    refused = await bearer_api.ceiling(request, org, "kyc.api.ip", request_ip(request))
    if refused is not None:
        return refused
    caller = await bearer_api.caller(request, org, SCOPE)
    if isinstance(caller, Response):
        return caller
    refused = await bearer_api.ceiling(request, org, "kyc.api.user", str(caller.user_id))
    if refused is not None:
        return refused
    policy = await kyc.policy_for(services.db, org.id)
    if policy is None or not policy.enabled:
        return _not_offered()
    try:
        body = await memory_form.read_body(request, services.settings.kyc_max_upload_bytes)
        upload = take_upload(memory_form.parse(body, request.headers.get("content-type")))
    except memory_form.FormRejected:
        return problem_json(
            400, "The upload could not be read", "Send multipart/form-data: file, share_code."
        )
    try:
        record = await kyc.verify_upload(
            services.db, services.keyring, pinned(services.settings.kyc_uidai_certs_dir), org.id,
            caller.user_id, upload, audit.Actor("user", str(caller.user_id)), utcnow(),
            via_client=caller.client_id,
        )  # fmt: skip
    except KycRefused as refusal:
        if refusal.reason == "disabled":
            return _not_offered()
        return problem_json(422, "The file was refused", refusal.message)
    return JSONResponse(summary(record), status_code=201, headers=NO_STORE)
