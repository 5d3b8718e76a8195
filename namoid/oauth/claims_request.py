"""The ``claims`` request parameter (OIDC Core §5.5), as far as NamoID honours it:
``verified_claims`` (OpenID Connect for Identity Assurance 1.0 §6) in the ID token and at
UserInfo.

The value must be a JSON object whose optional ``id_token`` and ``userinfo`` members are
objects; anything else is ``invalid_request``. Individual claims requested there are
voluntary (§5.5.1): NamoID releases standard claims by scope only and ignores them. A
``verified_claims`` request in ``id_token`` or ``userinfo`` (an object, or an array of
objects, each with a ``verification`` object and a ``claims`` object) yields, for that
member, the verified claims NamoID can vouch for that were asked for; today that is
``name`` (from Aadhaar offline KYC).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from namoid.oauth.errors import InvalidRequest

MAX_CLAIMS_CHARS: Final = 4096
#: Claims NamoID can release inside ``verified_claims`` (IDA 1.0 §6.1).
VERIFIABLE: Final = ("name",)
_MEMBERS: Final = frozenset({"id_token", "userinfo"})


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what} must be a JSON object")
    return value


def _requested(request: object) -> set[str]:
    """The claim names one ``verified_claims`` request element asks for (IDA 1.0 §6.2)."""
    element = _object(request, "each verified_claims request")
    verification = element.get("verification")
    if verification is not None:
        _object(verification, "verified_claims.verification")
    claims = _object(element.get("claims"), "verified_claims.claims")
    if not claims:
        raise InvalidRequest("verified_claims.claims must name at least one claim")
    for name, detail in claims.items():
        if detail is not None and not isinstance(detail, dict):
            raise InvalidRequest(f"the request for verified claim {name!r} must be null or an object")
    return set(claims)


@dataclass(frozen=True, slots=True)
class VerifiedClaimsRequest:
    """The verifiable claims asked for in the ID token and at UserInfo (IDA 1.0 §6)."""

    id_token: tuple[str, ...] = ()
    userinfo: tuple[str, ...] = ()


def _names(member: dict[str, Any]) -> tuple[str, ...]:
    requests: object = member.get("verified_claims")
    if requests is None:
        return ()
    elements = requests if isinstance(requests, list) else [requests]
    if not elements:
        raise InvalidRequest("verified_claims must not be an empty array")
    names: set[str] = set().union(*(_requested(element) for element in elements))
    return tuple(name for name in VERIFIABLE if name in names)


def verified_claims_requested(raw: str | None) -> VerifiedClaimsRequest:
    """The verifiable claims asked for per member (none if absent); InvalidRequest if malformed."""
    if raw is None:
        return VerifiedClaimsRequest()
    if len(raw) > MAX_CLAIMS_CHARS:
        raise InvalidRequest(f"claims must be at most {MAX_CLAIMS_CHARS} characters")
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise InvalidRequest("claims must be valid JSON") from None
    document = _object(parsed, "claims")
    for member in _MEMBERS & set(document):
        _object(document[member], f"claims.{member}")
    return VerifiedClaimsRequest(_names(document.get("id_token", {})), _names(document.get("userinfo", {})))
