"""The ``claims`` request parameter (OIDC Core §5.5) for verified_claims (IDA 1.0 §6)."""

from __future__ import annotations

import json

import pytest

from namoid.oauth.claims_request import MAX_CLAIMS_CHARS, VerifiedClaimsRequest, verified_claims_requested
from namoid.oauth.errors import InvalidRequest

NAME = {"verification": {"trust_framework": None}, "claims": {"name": None}}
NAMES = ("name",)


@pytest.mark.parametrize(
    ("document", "id_token", "userinfo"),
    [
        (None, (), ()),
        ({}, (), ()),
        ({"userinfo": {"email": None}}, (), ()),
        ({"id_token": {"verified_claims": NAME}}, ("name",), ()),
        ({"id_token": {"verified_claims": [NAME, {"claims": {"birthdate": None}}]}}, ("name",), ()),
        ({"id_token": {"verified_claims": {"claims": {"birthdate": {"essential": True}}}}}, (), ()),
        ({"userinfo": {"verified_claims": NAME}}, (), ("name",)),
        ({"userinfo": {"verified_claims": [NAME]}, "id_token": {"verified_claims": NAME}}, NAMES, NAMES),
        ({"userinfo": {"verified_claims": {"claims": {"birthdate": None}}}}, (), ()),
    ],
)
def test_what_is_asked_for(document: object, id_token: tuple[str, ...], userinfo: tuple[str, ...]) -> None:
    raw = None if document is None else json.dumps(document)
    assert verified_claims_requested(raw) == VerifiedClaimsRequest(id_token, userinfo)


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        "null",
        '"name"',
        '{"userinfo": 1}',
        '{"id_token": {"verified_claims": {"verification": [], "claims": {"name": null}}}}',
        '{"id_token": {"verified_claims": {"claims": null}}}',
        '{"id_token": {"verified_claims": [1]}}',
        '{"userinfo": {"verified_claims": []}}',
        '{"userinfo": {"verified_claims": {"claims": {"name": 1}}}}',
        json.dumps({"id_token": {"verified_claims": NAME, "pad": "x" * MAX_CLAIMS_CHARS}}),
    ],
)
def test_malformed_is_invalid_request(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        verified_claims_requested(raw)
