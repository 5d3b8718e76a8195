"""RFC 9457 problem details: the one error format of the admin API.

Every refusal is a ``Problem`` (or an exception mapped to one here): invalid JSON → 400,
a body or query that does not fit the schema → 422, no valid token → 401 with an RFC 6750
``WWW-Authenticate`` challenge, a missing scope → 403, anything not in the caller's org → 404,
a duplicate → 409, a rate limit → 429 with ``Retry-After``. Nothing else escapes as a 500
without being logged.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from namoid.conflicts import StateConflict

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
}


class ProblemDetails(BaseModel):
    """RFC 9457 §3.1 members (``type`` is about:blank: the status says what happened)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


class Problem(Exception):
    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


def problem_response(
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> Response:
    body = ProblemDetails(title=TITLES.get(status, "Error"), status=status, detail=detail, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


async def _problem(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, Problem):
        return await _server_error(request, exc)
    return problem_response(exc.status, exc.detail, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    detail = str(exc.detail) if isinstance(exc, StarletteHTTPException) else "internal error"
    return problem_response(status, detail, headers=getattr(exc, "headers", None))


def _error_item(error: Any) -> dict[str, Any]:
    """Where and what, never the input itself (it could be a password)."""
    return {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        return await _server_error(request, exc)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return problem_response(400, "the request body is not valid JSON")
    return problem_response(
        422, "the request does not fit the schema", errors=[_error_item(e) for e in errors]
    )


async def _value_error(request: Request, exc: Exception) -> Response:
    """Refusals of the service layer: a state conflict such as a duplicate or disabling what is
    already disabled (409, RFC 9110 §15.5.10), or input it does not accept (422)."""
    status = 409 if isinstance(exc, StateConflict) else 422
    return problem_response(status, str(exc))


async def _lookup_error(request: Request, exc: Exception) -> Response:
    return problem_response(404, str(exc) or "not found")


async def _client_gone(request: Request, exc: Exception) -> Response:
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "the error was logged; please try again")


HANDLERS: tuple[tuple[type[Exception], Any], ...] = (
    (Problem, _problem),
    (StarletteHTTPException, _http_error),
    (RequestValidationError, _validation_error),
    (LookupError, _lookup_error),
    (ValueError, _value_error),
    (ClientDisconnect, _client_gone),
    (Exception, _server_error),
)
