"""Which client authentication method a request uses (RFC 6749 §2.3, RFC 7523 §2.2)."""

from __future__ import annotations

import base64

import pytest

from namoid.oauth import client_auth
from namoid.oauth.errors import InvalidClient, InvalidRequest

ASSERTION = (
    base64.urlsafe_b64encode(b'{"alg":"RS256"}').rstrip(b"=").decode()
    + "."
    + base64.urlsafe_b64encode(b'{"iss":"c1","sub":"c1"}').rstrip(b"=").decode()
    + ".sig"
)


def _basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


def test_basic_credentials_are_form_urldecoded() -> None:
    creds = client_auth.credentials({}, _basic("my%3Aclient:s%2Bcr+t"))
    assert creds == client_auth.Credentials("client_secret_basic", "my:client", "s+cr t")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer abc",
        "Basic",
        "Basic !!!",
        _basic("no-colon"),
        _basic(":secret"),
        _basic("id:"),
        "Basic " + "w6k=",
        "Basic \u00e9",
        _basic("%00abc:secret"),
        _basic("a%0Ab:secret"),
        _basic("x" * 256 + ":secret"),
    ],
)
def test_malformed_basic_is_invalid_client(header: str) -> None:
    with pytest.raises(InvalidClient):
        client_auth.credentials({}, header)


def test_basic_client_id_must_match_a_body_client_id() -> None:
    with pytest.raises(InvalidClient):
        client_auth.credentials({"client_id": "other"}, _basic("c1:s"))
    assert client_auth.credentials({"client_id": "c1"}, _basic("c1:s")).client_id == "c1"


def test_client_ids_are_visible_ascii() -> None:
    """RFC 6749 Appendix A.1; a NUL byte must never reach the database."""
    for client_id in ("a\x00b", "caf\u00e9", ""):
        with pytest.raises(InvalidClient):
            client_auth.Credentials("none", client_id)


def test_post_and_none() -> None:
    assert (
        client_auth.credentials({"client_id": "c1", "client_secret": "s"}, None).method
        == "client_secret_post"
    )
    assert client_auth.credentials({"client_id": "c1"}, None) == client_auth.Credentials("none", "c1")
    with pytest.raises(InvalidClient):
        client_auth.credentials({}, None)
    with pytest.raises(InvalidClient):
        client_auth.credentials({"client_secret": "s"}, None)


def test_private_key_jwt_names_the_client_by_its_subject() -> None:
    form = {"client_assertion_type": client_auth.JWT_BEARER, "client_assertion": ASSERTION}
    assert client_auth.credentials(form, None) == client_auth.Credentials("private_key_jwt", "c1", ASSERTION)
    with pytest.raises(InvalidClient):
        client_auth.credentials({**form, "client_id": "c2"}, None)
    with pytest.raises(InvalidClient):
        client_auth.credentials({**form, "client_assertion_type": "urn:other"}, None)
    with pytest.raises(InvalidClient):
        client_auth.credentials({**form, "client_assertion": "not-a-jwt"}, None)
    with pytest.raises(InvalidRequest):
        client_auth.credentials({"client_assertion_type": client_auth.JWT_BEARER}, None)


@pytest.mark.parametrize(
    ("form", "header"),
    [
        ({"client_id": "c1", "client_secret": "s"}, _basic("c1:s")),
        ({"client_assertion": ASSERTION, "client_assertion_type": client_auth.JWT_BEARER}, _basic("c1:s")),
        ({"client_secret": "s", "client_assertion": ASSERTION}, None),
    ],
)
def test_more_than_one_method_is_invalid_request(form: dict[str, str], header: str | None) -> None:
    with pytest.raises(InvalidRequest):
        client_auth.credentials(form, header)


def test_the_audience_is_the_issuer_only() -> None:
    """draft-ietf-oauth-rfc7523bis: not the token endpoint, not the endpoint used."""
    audience = client_auth.Audience("https://id.example/o/a", "https://id.example/o/a/revoke")
    assert audience.values() == ("https://id.example/o/a",)


def test_legacy_audiences_add_the_token_endpoint_and_the_endpoint_used() -> None:
    audience = client_auth.Audience("https://id.example/o/a", "https://id.example/o/a/revoke", legacy=True)
    assert audience.values() == (
        "https://id.example/o/a",
        "https://id.example/o/a/token",
        "https://id.example/o/a/revoke",
    )
