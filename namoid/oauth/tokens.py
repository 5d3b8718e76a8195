"""Access tokens (JWT, RFC 9068) and ID tokens (OIDC Core §2): minting, and verifying our own.

Access tokens: ``typ: at+jwt``, RS256 with the org's key, ``aud`` = the issuer (NamoID's own
resources: userinfo, introspection), ``sub`` = the user's id or, without a user, the
client_id (RFC 9068 §2.2). Each ``jti`` is stored so a token can be revoked and introspected.
ID tokens are signed with the client's ``id_token_signed_response_alg`` and carry ``at_hash``
(OIDC Core §3.1.3.6); no ``acr`` is asserted, since NamoID defines no ACR values yet.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.crypto.secrets import new_token, sha256_hex
from namoid.jose import jwt
from namoid.jose.keys import PrivateSigningKey
from namoid.oauth.errors import InvalidToken
from namoid.signing import ORG_KEY_ALG, SigningKeyStore
from namoid.storage.models import AccessToken, Organization, RefreshFamily, RefreshToken, User
from namoid.storage.repos import access_tokens, refresh_tokens, users

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 (a media type)
ACCESS_TOKEN_ALG = ORG_KEY_ALG  # every org has an active key of it


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token is issued for: a client, a scope and, for user grants, the authentication."""

    client_id: str
    scope: str
    user_id: uuid.UUID | None = None
    auth_time: datetime | None = None
    amr: Sequence[str] = field(default_factory=tuple)
    sid: str | None = None
    code_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    #: Verified claims (IDA 1.0) the user consented to release at UserInfo for this grant.
    userinfo_verified_claims: tuple[str, ...] = ()
    #: ``aud`` when the token is for a resource other than the issuer (RFC 8707: the admin API).
    audience: str | None = None

    @property
    def subject(self) -> str:
        """``sub``: the stable, opaque user id, or the client itself (RFC 9068 §2.2)."""
        return str(self.user_id) if self.user_id is not None else self.client_id


@dataclass(frozen=True, slots=True)
class Minted:
    """A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3) and the grant behind it."""

    grant: Grant
    access_token: str
    expires_in: int
    scope: str
    id_token: str | None = None
    refresh_token: str | None = None
    #: RFC 8693 §2.2.1: set for a token exchange, whose token may be another issuer's.
    issued_token_type: str | None = None
    token_type: str = "Bearer"  # noqa: S105 (a token type name)

    def response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.issued_token_type is not None:
            body["issued_token_type"] = self.issued_token_type
        if self.id_token is not None:
            body["id_token"] = self.id_token
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


@dataclass(frozen=True, slots=True)
class VerifiedAccessToken:
    claims: dict[str, Any]
    row: AccessToken

    @property
    def client_id(self) -> str:
        return self.row.client_id

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.row.user_id

    def is_active(self, now: datetime) -> bool:
        """Verified means active: unrevoked and unexpired at ``now``."""
        return self.row.expires_at > now


async def signer(store: SigningKeyStore, org: Organization, alg: str) -> PrivateSigningKey:
    """The org's active key for ``alg`` (``SigningKeyStore.active_key``)."""
    return await store.active_key(org, alg)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _user_claims(grant: Grant) -> dict[str, Any]:
    if grant.user_id is None or grant.auth_time is None:
        return {}
    claims: dict[str, Any] = {"auth_time": _epoch(grant.auth_time)}
    if grant.amr:
        claims["amr"] = list(grant.amr)
    return claims


async def mint_access_token(
    session: AsyncSession, org: Organization, issuer: str, key: PrivateSigningKey, grant: Grant, now: datetime
) -> str:
    """Sign an RFC 9068 access token and store its ``jti`` row in the caller's transaction."""
    jti = new_token(16)
    expires_at = now + timedelta(seconds=org.access_token_ttl)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": grant.subject,
        "aud": grant.audience or issuer,
        "client_id": grant.client_id,
        "scope": grant.scope,
        "jti": jti,
        "iat": _epoch(now),
        "exp": _epoch(expires_at),
        **_user_claims(grant),
    }
    await access_tokens.add(
        session,
        org.id,
        jti=jti,
        client_id=grant.client_id,
        user_id=grant.user_id,
        scope=grant.scope,
        code_id=grant.code_id,
        family_id=grant.family_id,
        created_at=now,
        expires_at=expires_at,
        userinfo_verified_claims=list(grant.userinfo_verified_claims) or None,
    )
    return jwt.sign(claims, key, typ=ACCESS_TOKEN_TYP)


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: base64url of the left half of the hash (SHA-256 for RS/PS/ES256)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def mint_id_token(
    org: Organization,
    issuer: str,
    key: PrivateSigningKey,
    grant: Grant,
    *,
    access_token: str,
    nonce: str | None,
    now: datetime,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """An ID token for ``grant``'s user (OIDC Core §2), audience and azp the client; ``extra``
    adds ``verified_claims`` (IDA 1.0) and nothing else."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": grant.subject,
        "aud": grant.client_id,
        "azp": grant.client_id,
        "iat": _epoch(now),
        "exp": _epoch(now + timedelta(seconds=org.id_token_ttl)),
        "at_hash": at_hash(access_token),
        **_user_claims(grant),
    }
    if extra and "verified_claims" in extra:
        claims["verified_claims"] = extra["verified_claims"]
    if nonce is not None:
        claims["nonce"] = nonce
    if grant.sid is not None:
        claims["sid"] = grant.sid
    return jwt.sign(claims, key, typ="JWT")


def is_active(user: User | None) -> bool:
    return user is not None and user.status == "active" and user.deleted_at is None


async def active_user(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    """The user if it still exists and is enabled; tokens of others are dead."""
    user = await users.get(session, org_id, user_id)
    return user if is_active(user) else None


async def verify_access_token(
    session: AsyncSession,
    org: Organization,
    issuer: str,
    published: Sequence[dict[str, Any]],
    token: str,
    now: datetime,
    *,
    audience: str | Collection[str] | None = None,
) -> VerifiedAccessToken:
    """The one check of our own access tokens (RFC 9068 §4); InvalidToken if anything fails.

    Signature by the org's published keys with the RS256 allow-list, ``typ`` at+jwt, the exact
    issuer and sole audience (the issuer, unless other resources are named: e.g. the admin API), expiry;
    then the ``jti`` row must exist in this org, unrevoked and unexpired, and agree with the claims.
    """
    try:
        claims = jwt.verify(
            token,
            published,
            algorithms=(ACCESS_TOKEN_ALG,),
            issuer=issuer,
            audience=audience or issuer,
            sole_audience=True,
            typ=ACCESS_TOKEN_TYP,
            now=now.timestamp(),
        )
    except jwt.JWTError:
        raise InvalidToken("the access token is invalid") from None
    jti = claims.get("jti")
    row = await access_tokens.get(session, org.id, jti) if isinstance(jti, str) else None
    if (
        row is None
        or row.revoked_at is not None
        or row.expires_at <= now
        or row.client_id != claims.get("client_id")
    ):
        raise InvalidToken("the access token is invalid")
    return VerifiedAccessToken(claims=claims, row=row)


@dataclass(frozen=True, slots=True)
class FoundRefreshToken:
    token: RefreshToken
    family: RefreshFamily

    @property
    def client_id(self) -> str:
        return self.family.client_id

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.family.user_id

    @property
    def expires_at(self) -> datetime:
        return min(self.token.expires_at, self.family.expires_at)

    def is_active(self, now: datetime) -> bool:
        """Unused, unexpired, and its family not revoked."""
        return self.family.revoked_at is None and self.token.used_at is None and self.expires_at > now


IssuedToken = VerifiedAccessToken | FoundRefreshToken


async def lookup(
    session: AsyncSession,
    org: Organization,
    issuer: str,
    published: Sequence[dict[str, Any]],
    value: str,
    hint: str | None,
    now: datetime,
    *,
    resources: Sequence[str] = (),
) -> IssuedToken | None:
    """A token this org issued (RFC 7009 §2.1, RFC 7662 §2.1): a valid access token (for the
    issuer or one of ``resources``, RFC 8707), or a refresh token in any state. ``hint`` only
    orders the search; an unknown hint is ignored."""

    async def access() -> IssuedToken | None:
        try:
            audiences = (issuer, *resources)
            return await verify_access_token(session, org, issuer, published, value, now, audience=audiences)
        except InvalidToken:
            return None

    async def refresh() -> IssuedToken | None:
        found = await refresh_tokens.find(session, org.id, sha256_hex(value))
        return None if found is None else FoundRefreshToken(*found)

    for search in (refresh, access) if hint == "refresh_token" else (access, refresh):
        found = await search()
        if found is not None:
            return found
    return None
