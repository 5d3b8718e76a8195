"""Client registration rules: exact, HTTPS redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7)."""

from __future__ import annotations

import pytest

from namoid.oauth.client_metadata import validate, validate_redirect_uri


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/cb",
        "https://app.example:8443/cb?x=1",
        "http://127.0.0.1/cb",
        "http://[::1]:8080/cb",
        "http://localhost:3000/cb",
    ],
)
def test_accepted_redirect_uris(uri: str) -> None:
    assert validate_redirect_uri(uri, "confidential") == uri


def test_private_use_scheme_only_for_public_clients() -> None:
    assert validate_redirect_uri("com.example.app:/oauth2redirect", "public")
    with pytest.raises(ValueError, match="private-use"):
        validate_redirect_uri("com.example.app:/oauth2redirect", "confidential")


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example/cb",
        "https://app.example/cb#x",
        "https://user:pw@app.example/cb",
        "https://*.example/cb",
        "javascript:alert(1)",
        "data:text/html,x",
        "/relative",
        "",
        "https://app.example/ cb",
        "myapp:/cb",
        "https:///nohost",
    ],
)
def test_rejected_redirect_uris(uri: str) -> None:
    with pytest.raises(ValueError, match="redirect URI"):
        validate_redirect_uri(uri, "public")


def test_defaults() -> None:
    confidential = validate(name="x", client_type="confidential", redirect_uris=["https://a.example/cb"])
    assert confidential.token_endpoint_auth_method == "client_secret_basic"
    assert confidential.grant_types == ["authorization_code"]
    assert confidential.scopes == ["openid", "profile", "email"]
    public = validate(name="x", client_type="public", redirect_uris=["https://a.example/cb"])
    assert public.token_endpoint_auth_method == "none"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"client_type": "public", "grant_types": ["client_credentials"]}, "confidential"),
        ({"client_type": "public", "grant_types": ["implicit"]}, "not supported"),
        ({"client_type": "confidential", "auth_method": "none"}, "must authenticate"),
        ({"client_type": "confidential", "auth_method": "private_key_jwt"}, "JWKS"),
        ({"client_type": "confidential", "redirect_uris": []}, "at least one"),
        ({"client_type": "confidential", "scopes": ['bad"scope']}, "invalid scope"),
        ({"client_type": "confidential", "name": "  "}, "name"),
    ],
)
def test_invalid_metadata(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"name": "x", "redirect_uris": ["https://a.example/cb"]}
    with pytest.raises(ValueError, match=message):
        validate(**(base | fields))  # type: ignore[arg-type]


def test_client_credentials_needs_no_redirect_uri() -> None:
    meta = validate(
        name="svc", client_type="confidential", redirect_uris=[], grant_types=["client_credentials"]
    )
    assert meta.redirect_uris == []
