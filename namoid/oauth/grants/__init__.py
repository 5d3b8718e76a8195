"""Grant handlers of the token endpoint (RFC 6749 §4, §6): one module per grant type.

Each handler takes a ``TokenRequest`` (an authenticated client in an open tenant
transaction) and returns what it minted, or raises an OAuthError.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.crypto.keyring import Keyring
from namoid.oauth import tokens
from namoid.services import Services
from namoid.signing import SigningKeyStore
from namoid.storage.models import Client, Organization


@dataclass(frozen=True, slots=True)
class TokenRequest:
    session: AsyncSession
    org: Organization
    issuer: str
    client: Client
    form: Mapping[str, str]
    services: Services
    now: datetime

    @property
    def signing(self) -> SigningKeyStore:
        return self.services.signing

    @property
    def keyring(self) -> Keyring:
        return self.services.keyring


GrantHandler = Callable[[TokenRequest], Awaitable[tokens.Minted]]


async def issue(
    request: TokenRequest,
    grant: tokens.Grant,
    *,
    nonce: str | None = None,
    refresh_token: str | None = None,
    id_token_claims: Mapping[str, Any] | None = None,
) -> tokens.Minted:
    """Mint the access token and, for a user grant with ``openid``, the ID token (OIDC Core §3.1.3.3)."""
    org, now = request.org, request.now
    key = await tokens.signer(request.signing, org, tokens.ACCESS_TOKEN_ALG)
    access_token = await tokens.mint_access_token(request.session, org, request.issuer, key, grant, now)
    id_token = None
    if grant.user_id is not None and "openid" in grant.scope.split(" "):
        id_key = await tokens.signer(request.signing, org, request.client.id_token_signed_response_alg)
        id_token = tokens.mint_id_token(
            org, request.issuer, id_key, grant, access_token=access_token, nonce=nonce, now=now,
            extra=id_token_claims,
        )  # fmt: skip
    return tokens.Minted(
        grant=grant,
        access_token=access_token,
        expires_in=org.access_token_ttl,
        scope=grant.scope,
        id_token=id_token,
        refresh_token=refresh_token,
    )
