"""Validation of client registration metadata (RFC 7591 §2, OAuth 2.1 §2, RFC 8252).

Besides the protocol metadata, a client may override the org's refresh lifetimes (checked
against the org at registration, ``client_registry``), set its refresh-token reuse window
(0-60 s, see ``grants/refresh_token``) and choose what logging out does to its
``offline_access`` grants (``keep`` or ``end``, see ``grant_revocation``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from namoid.admin.scopes import is_admin_scope
from namoid.jose.keys import SIGNING_ALGORITHMS
from namoid.oauth.grant_revocation import OFFLINE_ACCESS_POLICIES

ClientType = Literal["confidential", "public"]
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
#: Grants NamoID implements; implicit and password do not exist in OAuth 2.1.
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_SCOPES = ("openid", "profile", "email")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
# RFC 8252 §7.1: private-use URI schemes in reverse domain name notation.
_PRIVATE_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+$")
#: Upper bound of a refresh-token reuse window in seconds (a retry, not a second life).
MAX_REFRESH_REUSE_WINDOW = 60
#: The window a client gets unless it sets one (README, "Refresh-token reuse window"): a stolen
#: confidential client's token is useless without its credentials; a public client's is not.
DEFAULT_REFRESH_REUSE_WINDOW: dict[str, int] = {"confidential": 30, "public": 15}


@dataclass(frozen=True, slots=True)
class ClientMetadata:
    name: str
    client_type: ClientType
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    grant_types: list[str] = field(default_factory=lambda: ["authorization_code"])
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    jwks: dict[str, Any] | None = None
    first_party: bool = False
    id_token_signed_response_alg: str = "RS256"  # noqa: S105 (an algorithm name)
    introspect_any: bool = False
    refresh_tokens: bool = False
    refresh_token_ttl: int | None = None
    refresh_idle_ttl: int | None = None
    refresh_reuse_window: int | None = None
    offline_access_on_logout: str = "keep"


def check_refresh_reuse_window(seconds: int | None) -> int | None:
    """``seconds`` if it is a valid reuse window (0 turns reuse off; None: the default), else ValueError."""
    if seconds is not None and not 0 <= seconds <= MAX_REFRESH_REUSE_WINDOW:
        raise ValueError(f"refresh_reuse_window must be between 0 and {MAX_REFRESH_REUSE_WINDOW} seconds")
    return seconds


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def validate_redirect_uri(uri: str, client_type: ClientType) -> str:
    """An absolute URI without fragment (RFC 6749 §3.1.2), HTTPS unless loopback (RFC 8252 §7.3)
    or a private-use scheme of a native public client (RFC 8252 §7.1). Matching is exact."""
    if not uri or len(uri) > 2000 or any(c.isspace() for c in uri) or "*" in uri:
        raise ValueError(f"redirect URI {uri!r} must be one absolute URI without spaces or wildcards")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise ValueError(f"redirect URI {uri!r} must not contain a fragment (RFC 6749 §3.1.2)")
    if parts.username or parts.password:
        raise ValueError(f"redirect URI {uri!r} must not contain user information")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return uri
    if client_type == "public" and _PRIVATE_SCHEME.match(parts.scheme) and parts.path.startswith("/"):
        return uri
    raise ValueError(
        f"redirect URI {uri!r} must use https (http only for loopback; private-use schemes "
        "like com.example.app:/cb only for public native clients)"
    )


def validate_scope(scope: str) -> str:
    if not _SCOPE_TOKEN.match(scope):
        raise ValueError(f"invalid scope {scope!r} (RFC 6749 §3.3)")
    return scope


def validate_client_scope(scope: str) -> str:
    """A scope a client may be registered with: admin scopes are granted on their own (issue 16)."""
    if is_admin_scope(scope):
        raise ValueError(f"{scope!r}: admin scopes are granted on their own (namoid client allow-admin)")
    return validate_scope(scope)


def _default_auth_method(client_type: ClientType) -> str:
    return "client_secret_basic" if client_type == "confidential" else "none"


def validate(
    *,
    name: str,
    client_type: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    grant_types: list[str] | None = None,
    scopes: list[str] | None = None,
    auth_method: str | None = None,
    jwks: dict[str, Any] | None = None,
    first_party: bool = False,
    id_token_alg: str = "RS256",  # noqa: S107 (an algorithm name)
    introspect_any: bool = False,
    refresh_tokens: bool = False,
    refresh_token_ttl: int | None = None,
    refresh_idle_ttl: int | None = None,
    refresh_reuse_window: int | None = None,
    offline_access_on_logout: str = "keep",
) -> ClientMetadata:
    """Check every field and return normalised metadata; raise ValueError naming the problem."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("client name must be 1-200 characters")
    if client_type not in ("confidential", "public"):
        raise ValueError("client type must be 'confidential' or 'public'")
    ctype: ClientType = "confidential" if client_type == "confidential" else "public"
    method = auth_method or _default_auth_method(ctype)
    if method not in AUTH_METHODS:
        raise ValueError(f"auth method must be one of {', '.join(AUTH_METHODS)}")
    if (ctype == "public") != (method == "none"):
        raise ValueError("public clients use auth method 'none'; confidential clients must authenticate")
    if method == "private_key_jwt" and not (jwks and isinstance(jwks.get("keys"), list) and jwks["keys"]):
        raise ValueError("private_key_jwt needs the client's public keys (a JWKS with 'keys')")
    if id_token_alg not in SIGNING_ALGORITHMS:
        raise ValueError(f"id token algorithm must be one of {', '.join(SIGNING_ALGORITHMS)}")
    if introspect_any and ctype == "public":
        raise ValueError("only confidential clients may introspect other clients' tokens")
    grants = list(dict.fromkeys(grant_types or ["authorization_code"]))
    for grant in grants:
        if grant not in GRANT_TYPES:
            raise ValueError(f"grant type {grant!r} is not supported; use {', '.join(GRANT_TYPES)}")
    if "client_credentials" in grants and ctype == "public":
        raise ValueError("client_credentials needs a confidential client")
    uris = list(dict.fromkeys(validate_redirect_uri(u, ctype) for u in redirect_uris))
    if "authorization_code" in grants and not uris:
        raise ValueError("authorization_code clients need at least one --redirect-uri")
    logout_uris = list(
        dict.fromkeys(validate_redirect_uri(u, ctype) for u in post_logout_redirect_uris or [])
    )
    if offline_access_on_logout not in OFFLINE_ACCESS_POLICIES:
        raise ValueError(f"offline access on logout must be one of {', '.join(OFFLINE_ACCESS_POLICIES)}")
    return ClientMetadata(
        name=name,
        client_type=ctype,
        token_endpoint_auth_method=method,
        redirect_uris=uris,
        post_logout_redirect_uris=logout_uris,
        grant_types=grants,
        scopes=list(dict.fromkeys(validate_client_scope(s) for s in scopes or DEFAULT_SCOPES)),
        jwks=jwks,
        first_party=first_party,
        id_token_signed_response_alg=id_token_alg,
        introspect_any=introspect_any,
        refresh_tokens=refresh_tokens,
        refresh_token_ttl=refresh_token_ttl,
        refresh_idle_ttl=refresh_idle_ttl,
        refresh_reuse_window=check_refresh_reuse_window(refresh_reuse_window),
        offline_access_on_logout=offline_access_on_logout,
    )
