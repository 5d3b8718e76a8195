"""Request parameters of the JSON protocol endpoints (token, revoke, introspect, userinfo).

RFC 6749 §3.1/§3.2: parameters MUST NOT be included more than once; parameters sent
without a value are treated as omitted. Bodies are ``application/x-www-form-urlencoded``
(RFC 6749 §4.1.3, RFC 7009 §2.1, RFC 7662 §2.1) in UTF-8. Sizes are capped so that no
value reaches the database or a parser unbounded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl

from starlette.requests import Request

from namoid.oauth.client_metadata import validate_scope
from namoid.oauth.errors import InvalidRequest, InvalidScope

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 32
MAX_NAME = 64
MAX_VALUE = 2048
#: Parameters that carry a JWT (client assertions, access tokens) may be longer.
MAX_JWT_VALUE = 8192
_JWT_PARAMETERS = frozenset({"client_assertion", "token", "access_token"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_form(content_type: str | None) -> bool:
    """True for ``application/x-www-form-urlencoded`` with an optional UTF-8 charset."""
    media_type, _, options = (content_type or "").partition(";")
    if media_type.strip().lower() != FORM_MEDIA_TYPE:
        return False
    charset = options.strip().lower()
    return charset in ("", "charset=utf-8", 'charset="utf-8"')


def parse_form(body: bytes) -> dict[str, str]:
    """The form's parameters; InvalidRequest on duplicates, oversized or malformed input."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the body is not a well-formed UTF-8 form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        _check_pair(name, value)
        if name in form:
            raise InvalidRequest(f"parameter {name} is included more than once")
        form[name] = value
    return {name: value for name, value in form.items() if value}


def _check_pair(name: str, value: str) -> None:
    if len(name) > MAX_NAME or not name.isascii() or _CONTROL.search(name):
        raise InvalidRequest("malformed parameter name")
    limit = MAX_JWT_VALUE if name in _JWT_PARAMETERS else MAX_VALUE
    if len(value) > limit:
        raise InvalidRequest(f"parameter {name} is too long")
    if _CONTROL.search(value):
        raise InvalidRequest(f"parameter {name} contains control characters")


async def form(request: Request) -> dict[str, str]:
    """The request's form body, refusing any other content type (RFC 6749 §3.2)."""
    if not is_form(request.headers.get("content-type")):
        raise InvalidRequest(f"the body must be {FORM_MEDIA_TYPE}")
    return parse_form(await request.body())


def authorization_header(request: Request) -> str | None:
    """The single ``Authorization`` header, if any; several are a malformed request."""
    values = request.headers.getlist("authorization")
    if len(values) > 1:
        raise InvalidRequest("more than one Authorization header")
    return values[0] if values else None


def scopes(value: str) -> list[str]:
    """A space-delimited scope (RFC 6749 §3.3) as distinct tokens, in order; InvalidScope if malformed."""
    try:
        return list(dict.fromkeys(validate_scope(token) for token in value.split(" ") if token))
    except ValueError:
        raise InvalidScope("malformed scope") from None


def requested_scopes(form: Mapping[str, str]) -> list[str] | None:
    """The ``scope`` parameter's tokens, or None when the client sent none."""
    value = form.get("scope")
    return None if value is None else scopes(value)
