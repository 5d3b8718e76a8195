"""Form parsing of the protocol endpoints (RFC 6749 §3.1, §3.2)."""

from __future__ import annotations

import pytest

from namoid.oauth import params
from namoid.oauth.errors import InvalidRequest, InvalidScope


def test_parses_a_form_and_drops_empty_values() -> None:
    form = params.parse_form(b"grant_type=client_credentials&scope=a+b&state=&x=%2F")
    assert form == {"grant_type": "client_credentials", "scope": "a b", "x": "/"}


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=a&grant_type=a",
        b"grant_type=a&grant_type=",
        b"scope=&scope=",
        b"code=x&code=y",
    ],
)
def test_duplicated_parameters_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest, match="more than once"):
        params.parse_form(body)


@pytest.mark.parametrize(
    "body",
    [
        b"code=" + b"a" * (params.MAX_VALUE + 1),
        b"token=" + b"a" * (params.MAX_JWT_VALUE + 1),
        b"n" * (params.MAX_NAME + 1) + b"=1",
        b"&".join(b"p%d=1" % i for i in range(params.MAX_FIELDS + 1)),
        b"code=%00",
        b"code=a%0Ab",
        b"code=%FF",
        b"\xff=1",
        "cod\u00e9=1".encode(),
    ],
)
def test_oversized_or_malformed_forms_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        params.parse_form(body)


def test_jwt_parameters_may_be_longer() -> None:
    assert params.parse_form(b"client_assertion=" + b"a" * params.MAX_JWT_VALUE)


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/x-www-form-urlencoded", True),
        ("Application/X-WWW-Form-Urlencoded; charset=UTF-8", True),
        ("application/x-www-form-urlencoded;charset=utf-8", True),
        ("application/x-www-form-urlencoded; charset=latin-1", False),
        ("application/json", False),
        ("multipart/form-data; boundary=x", False),
        ("text/plain", False),
        ("", False),
        (None, False),
    ],
)
def test_only_urlencoded_forms_are_accepted(content_type: str | None, accepted: bool) -> None:
    assert params.is_form(content_type) is accepted


def test_scopes_are_distinct_tokens_in_order() -> None:
    assert params.scopes("openid  email openid profile") == ["openid", "email", "profile"]


@pytest.mark.parametrize("value", ['a"b', "a\\b", "caf\u00e9"])
def test_malformed_scopes_are_invalid_scope(value: str) -> None:
    with pytest.raises(InvalidScope):
        params.scopes(value)


@pytest.mark.parametrize(("body", "named"), [(b"x%22=1&x%22=2", "x?"), (b"a%5Cb=1&a%5Cb=", "a?b")])
def test_a_repeated_name_outside_the_description_set_is_still_invalid_request(
    body: bytes, named: str
) -> None:
    """RFC 6749 §5.2 allows neither '"' nor '\\' in error_description: the name is shown with '?'."""
    with pytest.raises(InvalidRequest) as refused:
        params.parse_form(body)
    assert refused.value.description == f"parameter {named} is included more than once"


def test_error_descriptions_keep_to_the_rfc_6749_character_set() -> None:
    assert InvalidRequest('say "hi" \\ é\n').description == "say ?hi? ? ??"
