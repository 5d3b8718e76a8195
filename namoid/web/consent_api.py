"""The consent API under ``/o/{org}``: withdraw a consent, fetch its receipt; and the public notice.

``DELETE /consents/{consent_id}`` withdraws (namoid.privacy.withdrawal) and answers 204,
also when it was already withdrawn (idempotent, RFC 9110 §9.2.2).
``GET /consents/{consent_id}/receipt`` answers the consent receipt (namoid.privacy.receipts).
Both need a Bearer access token (RFC 6750 §2.1, checked by ``bearer_api``) that this org
issued for the consent's user with the ``consents`` scope; a consent of another user is 404,
like one that does not exist.
Errors are RFC 9457 problem details; a 401 or 403 also carries the RFC 6750 §3 challenge.
Every request counts against the caller's IP (``consents.ip``).

``GET /notice?lang=en|hi`` shows the org's current privacy notice (the receipts' ``policyUrl``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from namoid.privacy import notices, receipts, withdrawal
from namoid.ratelimit.keys import request_ip
from namoid.services import Services
from namoid.storage.models import Organization
from namoid.tenancy.resolve import current_org, issuer_for
from namoid.web import bearer_api, limits
from namoid.web.bearer_api import NO_STORE, problem_json
from namoid.web.responses import page

router = APIRouter()
OrgParam = Annotated[Organization, Depends(current_org)]
SCOPE: Final = "consents"
CEILING: Final = "consents.ip"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _caller(
    request: Request, org: Organization, consent_id: str
) -> tuple[uuid.UUID, uuid.UUID] | Response:
    """(user, consent) once the IP ceiling, the token and the id pass; else the answer to give."""
    refused = await bearer_api.ceiling(request, org, CEILING, request_ip(request))
    if refused is not None:
        return refused
    caller = await bearer_api.caller(request, org, SCOPE)
    if isinstance(caller, Response):
        return caller
    try:
        return caller.user_id, uuid.UUID(consent_id)
    except ValueError:
        return _not_found()


def _not_found() -> JSONResponse:
    return problem_json(404, "No such consent", "There is no consent with that id for this account.")


@router.delete("/consents/{consent_id}")
async def withdraw_consent(request: Request, org: OrgParam, consent_id: str) -> Response:
    """Withdraw one consent (DPDP Act s.6(4)); 204 whether it ends now or had ended before."""
    caller = await _caller(request, org, consent_id)
    if isinstance(caller, Response):
        return caller
    user_id, consent = caller
    try:
        await withdrawal.withdraw(_services(request).db, org.id, user_id, consent, how="api")
    except withdrawal.ConsentNotFound:
        return _not_found()
    return Response(status_code=204, headers=NO_STORE)


@router.get("/consents/{consent_id}/receipt")
async def consent_receipt(request: Request, org: OrgParam, consent_id: str) -> Response:
    """The consent receipt (JSON), as a download."""
    caller = await _caller(request, org, consent_id)
    if isinstance(caller, Response):
        return caller
    user_id, consent = caller
    issuer = issuer_for(_services(request).settings.base_url, org.slug)
    try:
        body: dict[str, Any] = await receipts.receipt(_services(request).db, org, issuer, user_id, consent)
    except withdrawal.ConsentNotFound:
        return _not_found()
    disposition = f'attachment; filename="consent-receipt-{consent}.json"'
    return JSONResponse(body, headers={**NO_STORE, "Content-Disposition": disposition})


@router.get("/notice", include_in_schema=False)
async def notice_page(request: Request, org: OrgParam) -> Response:
    """The org's current privacy notice in ``lang`` (English when absent or not offered)."""
    refused = await limits.ceiling(request, org, "interaction.ip")
    if refused is not None:
        return refused
    language = request.query_params.get("lang", "en")
    language = language if language in notices.LANGUAGES else "en"
    async with _services(request).db.tenant(org.id) as session:
        notice = await notices.current(session, org.id, language)
    return page(request, "notice.html", {"org_name": org.name, "notice": notice})
