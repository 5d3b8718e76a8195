"""Discovery (OIDC Discovery 1.0 §3-4, RFC 8414 §2-3) and the JWKS (RFC 7517 §5).

Both documents are public and cacheable. The metadata changes only with a release
(``Cache-Control: max-age=300``). The JWKS changes with a key rotation, so its max-age
(60 s) is far below the shortest publication window of a retired key (an org's token
lifetime, 10 min by default): a relying party that honours the cache always sees a
retired key for as long as tokens it signed can be valid, and a new ``kid`` within a
minute (most libraries also refetch at once on an unknown ``kid``).

Each document is encoded once and served as bytes with a strong ``ETag`` (a hash of those
bytes, RFC 9110 §8.8.3); a request whose ``If-None-Match`` names it is answered 304 without a
body (RFC 9110 §13.1.2, §15.4.5). The org, its keys and whether it allows token exchange come
from this node's caches (``namoid.nodecache``): no database query in the steady state.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from namoid.jose.keys import SIGNING_ALGORITHMS
from namoid.kyc import claims as kyc_claims
from namoid.oauth.authorize import UI_LOCALES_SUPPORTED
from namoid.oauth.client_metadata import AUTH_METHODS, GRANT_TYPES
from namoid.oauth.grants.token_exchange import TOKEN_EXCHANGE
from namoid.services import Services
from namoid.signing import OrgKeys
from namoid.storage.models import Organization
from namoid.tenancy.resolve import current_org, issuer_for

METADATA_MAX_AGE = 300
JWKS_MAX_AGE = 60

SCOPES_SUPPORTED = ("openid", "profile", "email", "phone", "offline_access")
CLAIMS_SUPPORTED = (
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "azp", "at_hash",
    "name", "email", "email_verified", "phone_number", "phone_number_verified", "updated_at",
)  # fmt: skip
#: Introspection is for authenticated clients only (RFC 7662 §2.1), so no ``none``.
INTROSPECTION_AUTH_METHODS = tuple(m for m in AUTH_METHODS if m != "none")
#: Members a published public JWK may carry (RFC 7517 §4, RFC 7518 §6.2.1, §6.3.1).
PUBLIC_JWK_MEMBERS = frozenset({"kty", "kid", "alg", "use", "key_ops", "n", "e", "crv", "x", "y"})

CurrentOrg = Annotated[Organization, Depends(current_org)]

router = APIRouter()
metadata_router = APIRouter()


def provider_metadata(issuer: str, *, token_exchange: bool = False) -> dict[str, Any]:
    """What this issuer really supports (OIDC Discovery 1.0 §3, RFC 8414 §2, RFC 9207 §3).

    The token exchange grant (RFC 8693) is listed only when some client of the org may use it.
    """
    algorithms = list(SIGNING_ALGORITHMS)
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks.json",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "end_session_endpoint": f"{issuer}/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": [*GRANT_TYPES, *([TOKEN_EXCHANGE] if token_exchange else [])],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": algorithms,
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": algorithms,
        "introspection_endpoint_auth_methods_supported": list(INTROSPECTION_AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": algorithms,
        "scopes_supported": list(SCOPES_SUPPORTED),
        "claims_supported": list(CLAIMS_SUPPORTED),
        "claim_types_supported": ["normal"],
        "prompt_values_supported": ["none", "login", "consent"],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": True,
        "ui_locales_supported": list(UI_LOCALES_SUPPORTED),
        # OpenID Connect for Identity Assurance 1.0 §8: verified_claims from Aadhaar offline KYC.
        "verified_claims_supported": True,
        "trust_frameworks_supported": [kyc_claims.TRUST_FRAMEWORK],
        "evidence_supported": [kyc_claims.EVIDENCE_TYPE],
        "claims_in_verified_claims_supported": list(kyc_claims.CLAIMS),
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }


@dataclass(frozen=True, slots=True)
class Document:
    """A public JSON document, encoded once, and its strong entity tag (RFC 9110 §8.8.3)."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Document:
        body = json.dumps(payload, separators=(",", ":")).encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:16]).rstrip(b"=").decode()
        return cls(body, f'"{digest}"')

    def matches(self, if_none_match: str | None) -> bool:
        """RFC 9110 §13.1.2: ``*`` or a listed tag equal to ours by weak comparison (§8.8.3.2)."""
        if if_none_match is None:
            return False
        tags = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
        return any(tag in ("*", self.etag) for tag in tags)


@lru_cache(maxsize=1024)
def _metadata_document(issuer: str, token_exchange: bool) -> Document:
    return Document.of(provider_metadata(issuer, token_exchange=token_exchange))


#: The encoded JWKS of each org, rebuilt when its cached keys are replaced (by identity).
_jwks_documents: dict[str, tuple[OrgKeys, Document]] = {}


def _jwks_document(org: Organization, keys: OrgKeys) -> Document:
    cached = _jwks_documents.get(str(org.id))
    if cached is not None and cached[0] is keys:
        return cached[1]
    document = Document.of({"keys": [public_jwk(k) for k in keys.published]})
    if len(_jwks_documents) >= 10_000:
        _jwks_documents.clear()
    _jwks_documents[str(org.id)] = (keys, document)
    return document


def public_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    """Only public members: an allow-list, so no private part can be published (RFC 7517 §9.2)."""
    return {name: value for name, value in jwk.items() if name in PUBLIC_JWK_MEMBERS}


def _public_json(request: Request, document: Document, max_age: int) -> Response:
    headers = {
        "Cache-Control": f"public, max-age={max_age}",
        # Public, credential-free documents: browser-based relying parties may read them.
        "Access-Control-Allow-Origin": "*",
        "ETag": document.etag,
    }
    if document.matches(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)  # RFC 9110 §15.4.5: the same validators
    return Response(document.body, media_type="application/json", headers=headers)


async def _metadata_response(request: Request, org: Organization) -> Response:
    services: Services = request.app.state.services
    exchange = await services.exchange_policy.enabled_in_org(org.id)
    document = _metadata_document(issuer_for(services.settings.base_url, org.slug), exchange)
    return _public_json(request, document, METADATA_MAX_AGE)


@router.get("/.well-known/openid-configuration", include_in_schema=False)
async def openid_configuration(request: Request, org: CurrentOrg) -> Response:
    """OIDC Discovery 1.0 §4: the configuration at ``{issuer}/.well-known/openid-configuration``."""
    return await _metadata_response(request, org)


@metadata_router.get("/.well-known/oauth-authorization-server/o/{org}", include_in_schema=False)
async def authorization_server_metadata(request: Request, org: CurrentOrg) -> Response:
    """RFC 8414 §3: the well-known suffix inserted between the host and the issuer's path."""
    return await _metadata_response(request, org)


@router.get("/jwks.json", include_in_schema=False)
async def jwks(request: Request, org: CurrentOrg) -> Response:
    """RFC 7517 §5: the org's active and still-published retired public keys."""
    services: Services = request.app.state.services
    keys = await services.signing.for_org(org)
    return _public_json(request, _jwks_document(org, keys), JWKS_MAX_AGE)
