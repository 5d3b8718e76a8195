"""Helpers shared by the interaction pages: request parameters, form fields, page headers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from namoid.web.middleware import SECURITY_HEADERS
from namoid.web.templates import error_page, render

_DEFAULT_FORM_ACTION = "form-action 'self'"


async def request_pairs(request: Request) -> list[tuple[str, str]]:
    """The query (GET) or form (POST) parameters in order; an uploaded file counts as empty."""
    if request.method == "GET":
        return request.query_params.multi_items()
    form = await request.form()
    return [(name, value if isinstance(value, str) else "") for name, value in form.multi_items()]


def content_security_policy(form_targets: Iterable[str]) -> str:
    """The site's CSP with ``form-action`` widened to ``form_targets`` (CSP3 §6.4.1): browsers
    apply form-action to the redirects after a form submission too, so a page whose form ends
    in a redirect to a client must allow the client's origin."""
    sources = " ".join(dict.fromkeys(["'self'", *form_targets]))
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    return policy.replace(_DEFAULT_FORM_ACTION, f"form-action {sources}")


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    form_targets: Iterable[str] = (),
    status_code: int = 200,
) -> Response:
    """An interaction page: never cached (it holds a CSRF token), with its own form-action."""
    response = render(request, template, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = content_security_policy(form_targets)
    return response


def problem(request: Request, status_code: int, title: str, message: str) -> Response:
    response = error_page(request, status_code, title, message)
    response.headers["Cache-Control"] = "no-store"
    return response


def forbidden(request: Request) -> Response:
    """A form post without a valid CSRF token: refused, nothing changed."""
    return problem(
        request,
        403,
        "This form has expired",
        "For your security the form could not be accepted. Go back, reload the page and try again.",
    )
