"""Client authentication at the token, revocation and introspection endpoints.

RFC 6749 §2.3 (client_secret_basic, client_secret_post), RFC 7523 §2.2/§3 and OIDC Core §9
(private_key_jwt), and ``none`` for public clients, which PKCE binds instead (OAuth 2.1
§2.4). The client's registered ``token_endpoint_auth_method`` is the only one it may use,
and a request may carry only one method (OAuth 2.1 §2.4). Every failure is audited,
without the credential.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, nodecache
from namoid.crypto.secrets import verify_client_secret
from namoid.jose import jwt
from namoid.oauth.errors import InvalidClient, InvalidRequest, OAuthError
from namoid.storage.models import Client, Organization
from namoid.storage.repos import clients, used_assertions

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: RFC 7523 §3 lets the server bound how far ahead ``exp`` may be; a client assertion is one request.
MAX_ASSERTION_LIFETIME = 300
ASSERTION_LEEWAY = 30
_AUDIT_ID = 200
# RFC 6749 Appendix A.1: client-id = *VSCHAR (%x20-7E); ours are short, so cap the length.
_CLIENT_ID = re.compile(r"[\x20-\x7e]{1,255}")
_JTI = re.compile(r"[^\x00-\x1f\x7f]{1,256}")  # used_assertions.jti is 256 characters
#: A client changes only through its repo, which drops it from every node's cache (``nodecache``).
CLIENT_CACHE_MAX_AGE = 300.0


class ClientDirectory:
    """Registered clients by org and client_id, read in the caller's transaction (so under its
    RLS) and kept on this node until a change to the client commits on any node."""

    def __init__(self, caches: nodecache.Caches) -> None:
        self._cache: nodecache.NodeCache[tuple[str, str], Client] = caches.cache(
            nodecache.CLIENT, CLIENT_CACHE_MAX_AGE
        )

    async def get(self, session: AsyncSession, org_id: uuid.UUID, client_id: str) -> Client | None:
        key = (str(org_id), client_id)
        cached = self._cache.get(key)
        if not isinstance(cached, nodecache.Missing):
            return cached
        stamp = self._cache.stamp()
        client = await clients.get(session, org_id, client_id)
        if client is not None:
            session.expunge(client)  # shared by concurrent requests: no session may expire or change it
            self._cache.put(key, client, stamp)
        return client


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the request presented: the method, the claimed client and its proof."""

    method: str
    client_id: str
    proof: str = ""

    def __post_init__(self) -> None:
        if not _CLIENT_ID.fullmatch(self.client_id):
            raise InvalidClient("malformed client_id")


def _basic(form: Mapping[str, str], authorization: str) -> Credentials:
    """RFC 6749 §2.3.1: ``Basic base64(urlencode(id) ":" urlencode(secret))``."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient("only the Basic authorization scheme is accepted here")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        client_id, colon, secret = decoded.partition(":")
        client_id, secret = unquote_plus(client_id, errors="strict"), unquote_plus(secret, errors="strict")
    except ValueError:  # binascii.Error, UnicodeError, non-ASCII input
        raise InvalidClient("malformed Basic credentials") from None
    if not colon or not client_id or not secret:
        raise InvalidClient("malformed Basic credentials")
    if form.get("client_id", client_id) != client_id:
        raise InvalidClient("client_id does not match the authenticated client")
    return Credentials("client_secret_basic", client_id, secret)


def _post(form: Mapping[str, str]) -> Credentials:
    """RFC 6749 §2.3.1: ``client_id`` and ``client_secret`` in the body."""
    client_id = form.get("client_id")
    if not client_id:
        raise InvalidClient("client_id is required with client_secret")
    return Credentials("client_secret_post", client_id, form["client_secret"])


def _private_key_jwt(form: Mapping[str, str]) -> Credentials:
    """RFC 7523 §2.2: a JWT whose ``sub`` (and ``iss``) is the client_id."""
    if form.get("client_assertion_type") != JWT_BEARER:
        raise InvalidClient("client_assertion_type must be " + JWT_BEARER)
    assertion = form.get("client_assertion")
    if assertion is None:
        raise InvalidRequest("client_assertion is required")
    try:
        subject = jwt.unverified_claims(assertion).get("sub")
    except jwt.JWTError:
        raise InvalidClient("malformed client assertion") from None
    if not isinstance(subject, str) or not subject:
        raise InvalidClient("the client assertion has no subject")
    if form.get("client_id", subject) != subject:
        raise InvalidClient("client_id does not match the client assertion")
    return Credentials("private_key_jwt", subject, assertion)


def _none(form: Mapping[str, str]) -> Credentials:
    client_id = form.get("client_id")
    if not client_id:
        raise InvalidClient("client authentication is required")
    return Credentials("none", client_id)


def credentials(form: Mapping[str, str], authorization: str | None) -> Credentials:
    """The one authentication method the request uses; InvalidRequest if it uses several."""
    post = "client_secret" in form
    assertion = "client_assertion" in form or "client_assertion_type" in form
    if (authorization is not None) + post + assertion > 1:
        raise InvalidRequest("more than one client authentication method was used")
    if authorization is not None:
        return _basic(form, authorization)
    if post:
        return _post(form)
    return _private_key_jwt(form) if assertion else _none(form)


@dataclass(frozen=True, slots=True)
class Audience:
    """Where an assertion may be addressed: our issuer identifier, as its sole audience value
    (draft-ietf-oauth-rfc7523bis, updating RFC 7523 §3).

    An endpoint URL as audience lets a server that publishes our endpoints as its own collect
    assertions valid here, and a list of audiences makes one assertion good at several
    servers. ``legacy`` (``NAMOID_CLIENT_ASSERTION_LEGACY_AUDIENCE``) also accepts what
    RFC 7523 and OIDC Core §9 allowed before, the token endpoint or the endpoint the assertion
    is presented to, still as the sole value, for clients not yet updated.
    """

    issuer: str
    endpoint: str
    legacy: bool = False

    def values(self) -> tuple[str, ...]:
        if not self.legacy:
            return (self.issuer,)
        return (self.issuer, f"{self.issuer}/token", self.endpoint)


def _assertion_claims(client: Client, assertion: str, audience: Audience, now: datetime) -> dict[str, Any]:
    keys = (client.jwks or {}).get("keys")
    jwks = [key for key in keys if isinstance(key, dict)] if isinstance(keys, list) else []
    try:
        claims = jwt.verify(
            assertion,
            jwks,
            issuer=client.client_id,
            audience=audience.values(),
            sole_audience=True,
            leeway=ASSERTION_LEEWAY,
            now=now.timestamp(),
        )
    except jwt.JWTError:
        raise InvalidClient("the client assertion is invalid") from None
    if claims.get("sub") != client.client_id:
        raise InvalidClient("the client assertion's sub must be the client_id")
    exp, iat = claims["exp"], claims.get("iat", now.timestamp())
    if not exp - max(now.timestamp(), iat) <= MAX_ASSERTION_LIFETIME + ASSERTION_LEEWAY:  # also NaN
        raise InvalidClient("the client assertion lives longer than 5 minutes")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not _JTI.fullmatch(jti):
        raise InvalidClient("the client assertion needs a well-formed jti")
    return claims


async def _check_assertion(
    session: AsyncSession,
    org: Organization,
    client: Client,
    assertion: str,
    audience: Audience,
    now: datetime,
) -> None:
    """RFC 7523 §3: signed by a registered key, addressed to us, short-lived, and used once."""
    claims = _assertion_claims(client, assertion, audience, now)
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    if not await used_assertions.record(session, org.id, client.client_id, claims["jti"], expires_at):
        raise InvalidClient("the client assertion was already used")


async def _verify(
    session: AsyncSession,
    org: Organization,
    creds: Credentials,
    audience: Audience,
    pepper: bytes,
    now: datetime,
    directory: ClientDirectory,
) -> Client:
    client = await directory.get(session, org.id, creds.client_id)
    if client is None or client.status != "active":
        raise InvalidClient("unknown or disabled client")
    if client.token_endpoint_auth_method != creds.method:
        raise InvalidClient(f"the client must authenticate with {client.token_endpoint_auth_method}")
    if creds.method in ("client_secret_basic", "client_secret_post"):
        if not verify_client_secret(creds.proof, client.secret_hash or "", pepper):
            raise InvalidClient("client authentication failed")
    elif creds.method == "private_key_jwt":
        await _check_assertion(session, org, client, creds.proof, audience, now)
    return client


async def authenticate(
    session: AsyncSession,
    org: Organization,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    audience: Audience,
    pepper: bytes,
    now: datetime,
    directory: ClientDirectory,
    confidential_only: bool = False,
) -> Client:
    """The authenticated client, or InvalidClient/InvalidRequest after an audit entry (denied)."""
    claimed = form.get("client_id", "")
    method = "unknown"
    try:
        creds = credentials(form, authorization)
        claimed, method = creds.client_id, creds.method
        client = await _verify(session, org, creds, audience, pepper, now, directory)
        if confidential_only and client.client_type != "confidential":
            raise InvalidClient("only confidential clients may use this endpoint")
    except OAuthError as exc:
        await audit.record(
            session,
            org.id,
            actor=audit.Actor("client", claimed[:_AUDIT_ID] or None),
            action="client.authentication_failed",
            target_type="client",
            target_id=claimed[:_AUDIT_ID] or None,
            outcome="denied",
            detail={"method": method, "reason": exc.description},
        )
        raise
    return client


async def authenticate_at(
    endpoint: str,
    session: AsyncSession,
    org: Organization,
    issuer: str,
    form: Mapping[str, str],
    authorization: str | None,
    *,
    pepper: bytes,
    now: datetime,
    directory: ClientDirectory,
    confidential_only: bool = False,
    legacy_audience: bool = False,
) -> Client:
    """``authenticate`` a client presenting itself at ``{issuer}/{endpoint}``."""
    return await authenticate(
        session,
        org,
        form,
        authorization,
        audience=Audience(issuer, f"{issuer}/{endpoint}", legacy_audience),
        pepper=pepper,
        now=now,
        directory=directory,
        confidential_only=confidential_only,
    )
