"""NamoID as a strict client of an upstream provider (RFC 6749, OpenID Connect Core 1.0).

Everything goes through the guarded outbound client (namoid.outbound): https only, no
private or metadata addresses, no redirects, bounded time and size, TLS verified. What
the upstream sends is checked, never trusted:

- Discovery (OpenID Connect Discovery 1.0 §4.3): the document's ``issuer`` must be the one
  configured, exactly; its endpoints must be https. Cached; so is the JWKS, refetched once
  when an ID token names an unknown ``kid`` (§10.1.1 key rotation).
- The ID token (Core §3.1.3.7): signature with an algorithm allow-list (RS256, PS256,
  ES256: never ``none`` or HMAC, RFC 8725 §3.1), ``iss`` (Microsoft: the template filled
  from ``tid``), ``aud`` containing our client id, ``azp`` when there are several
  audiences, ``exp``, ``iat`` within the allowed skew and age, ``nonce``, ``sub``.
- Errors never echo the upstream's body: a failure says what went wrong on our side of it.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import httpx

from namoid.jose import jwt
from namoid.jose.keys import SIGNING_ALGORITHMS, load_private_key
from namoid.outbound import (
    DestinationRefused,
    OutboundPolicy,
    ResolutionFailed,
    ResponseTooLarge,
    guarded_client,
    policy_for,
)
from namoid.providers.presets import GITHUB_EMAIL_SCOPES, PRESETS, expected_issuer
from namoid.settings import Settings
from namoid.storage.models import UpstreamProvider

MAX_RESPONSE_BYTES: Final = 256 * 1024
CACHE_SECONDS: Final = 3600
#: Clock skew allowed on exp/iat, and how old an ID token may be when it arrives.
LEEWAY: Final = 60
MAX_ID_TOKEN_AGE: Final = 600
#: At most one JWKS refetch per provider per this many seconds (an unknown kid cannot force a storm).
JWKS_REFETCH_SECONDS: Final = 60
APPLE_AUDIENCE: Final = "https://appleid.apple.com"
APPLE_SECRET_LIFETIME: Final = 300
#: Bounds on GitHub's list of addresses (its size is bounded by MAX_RESPONSE_BYTES too).
MAX_EMAILS: Final = 100
MAX_EMAIL_CHARS: Final = 254


class UpstreamError(Exception):
    """The upstream could not be used or misbehaved: ``reason`` is a short code; the message is safe."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Metadata:
    issuer: str | None
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str | None = None
    #: GitHub's list of the user's addresses (``GET /user/emails``), when the scopes allow it.
    emails_endpoint: str | None = None
    jwks_uri: str | None = None
    revocation_endpoint: str | None = None
    #: RFC 9207 §3: the provider sends ``iss`` with the authorization response.
    iss_parameter_supported: bool = False
    token_auth_methods: tuple[str, ...] = ("client_secret_basic",)


@dataclass(frozen=True, slots=True)
class TokenResponse:
    access_token: str
    token_type: str
    refresh_token: str | None
    id_token: str | None
    expires_in: int | None
    scope: str | None


_metadata_cache: dict[str, tuple[float, Metadata]] = {}
_jwks_cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}


def _https(url: object, what: str) -> str:
    if not isinstance(url, str) or urlsplit(url).scheme != "https" or not urlsplit(url).hostname:
        raise UpstreamError("bad_metadata", f"the provider's {what} is not an https URL")
    return url


class UpstreamClient:
    """Talks to upstream providers through the guarded client; one per process (it caches)."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        ca_file: Path | None = None,
        timeout: float = 5.0,
        clock: Any = time.time,
    ) -> None:
        self._policy, self._ca_file, self._timeout, self._clock = policy, ca_file, timeout, clock

    async def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """One exchange; the JSON object answered, or UpstreamError (never the upstream's body)."""
        document = await self._json(method, url, **kwargs)
        if not isinstance(document, dict):
            host = urlsplit(url).hostname
            raise UpstreamError("bad_json", f"the provider ({host}) did not answer a JSON object")
        return document

    async def _json(self, method: str, url: str, **kwargs: Any) -> object:
        """One exchange; the JSON value answered, or UpstreamError (never the upstream's body)."""
        host = urlsplit(url).hostname
        try:
            async with guarded_client(
                self._policy,
                timeout=self._timeout,
                max_response_bytes=MAX_RESPONSE_BYTES,
                ca_file=self._ca_file,
            ) as client:
                response = await client.request(method, url, **kwargs)
                await response.aread()
        except (DestinationRefused, ResolutionFailed):
            raise UpstreamError(
                "refused_destination", f"the provider's address ({host}) is not allowed"
            ) from None
        except ResponseTooLarge:
            raise UpstreamError("oversized", f"the provider ({host}) sent an oversized answer") from None
        except httpx.TimeoutException:
            raise UpstreamError("timeout", f"the provider ({host}) did not answer in time") from None
        except httpx.HTTPError:
            raise UpstreamError("unreachable", f"the provider ({host}) could not be reached") from None
        if response.status_code != 200:
            raise UpstreamError("http_status", f"the provider ({host}) answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise UpstreamError("bad_json", f"the provider ({host}) did not answer JSON") from None

    # --- discovery and keys -----------------------------------------------------

    async def metadata(self, provider: UpstreamProvider) -> Metadata:
        """The provider's endpoints: fixed (plain OAuth 2.0) or discovered and checked, cached."""
        preset = PRESETS[provider.preset]
        if not preset.is_oidc:
            endpoints = {**preset.endpoints, **provider.endpoints}  # rows stored before a preset grew
            may_list_emails = not GITHUB_EMAIL_SCOPES.isdisjoint(provider.scopes)
            return Metadata(
                issuer=None,
                authorization_endpoint=endpoints["authorization_endpoint"],
                token_endpoint=endpoints["token_endpoint"],
                userinfo_endpoint=endpoints.get("userinfo_endpoint"),
                emails_endpoint=endpoints.get("emails_endpoint") if may_list_emails else None,
                token_auth_methods=("client_secret_post",),
            )
        issuer = provider.issuer or ""
        url = preset.discovery_url or f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        cached = _metadata_cache.get(url)
        if cached is not None and cached[0] > self._clock() and cached[1].issuer == issuer:
            return cached[1]
        document = await self._request("GET", url)
        if document.get("issuer") != issuer:  # Discovery §4.3: exactly the configured issuer
            raise UpstreamError("wrong_issuer", "the provider's discovery document names another issuer")
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        metadata = Metadata(
            issuer=issuer,
            authorization_endpoint=_https(document.get("authorization_endpoint"), "authorization endpoint"),
            token_endpoint=_https(document.get("token_endpoint"), "token endpoint"),
            userinfo_endpoint=document.get("userinfo_endpoint")
            and _https(document["userinfo_endpoint"], "userinfo"),
            jwks_uri=_https(document.get("jwks_uri"), "JWKS URI"),
            revocation_endpoint=document.get("revocation_endpoint")
            and _https(document["revocation_endpoint"], "revocation endpoint"),
            iss_parameter_supported=document.get("authorization_response_iss_parameter_supported") is True,
            token_auth_methods=tuple(m for m in methods if isinstance(m, str)),
        )
        _metadata_cache[url] = (self._clock() + CACHE_SECONDS, metadata)
        return metadata

    async def _jwks(self, jwks_uri: str, *, refresh: bool) -> list[dict[str, Any]]:
        """The provider's keys: cached; ``refresh`` refetches, but at most once a minute."""
        cached = _jwks_cache.get(jwks_uri)
        now = self._clock()
        if cached is not None:
            age = now - cached[0]
            if (not refresh and age < CACHE_SECONDS) or (refresh and age < JWKS_REFETCH_SECONDS):
                return cached[1]
        document = await self._request("GET", jwks_uri)
        keys = document.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise UpstreamError("bad_jwks", "the provider's JWKS is malformed")
        _jwks_cache[jwks_uri] = (now, keys)
        return keys

    # --- the authorization code flow ----------------------------------------------

    @staticmethod
    def authorization_url(
        provider: UpstreamProvider,
        metadata: Metadata,
        *,
        redirect_uri: str,
        state: str,
        nonce: str,
        challenge: str,
    ) -> str:
        """RFC 6749 §4.1.1 with PKCE S256 (RFC 7636 §4.3) and, for OpenID Connect, a nonce."""
        params = {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(provider.scopes),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        preset = PRESETS[provider.preset]
        if preset.is_oidc:
            params["nonce"] = nonce
        if preset.response_mode:
            params["response_mode"] = preset.response_mode
        separator = "&" if urlsplit(metadata.authorization_endpoint).query else "?"
        return f"{metadata.authorization_endpoint}{separator}{urlencode(params)}"

    def _client_secret(self, provider: UpstreamProvider, secret: str) -> str:
        """The secret to present; for Apple a short-lived ES256 JWT signed with the team's key."""
        if not PRESETS[provider.preset].secret_is_private_key:
            return secret
        now = int(self._clock())
        key = load_private_key(provider.key_id or "", "ES256", secret.encode())
        claims = {
            "iss": provider.team_id,
            "iat": now,
            "exp": now + APPLE_SECRET_LIFETIME,
            "aud": APPLE_AUDIENCE,
            "sub": provider.client_id,
        }
        return jwt.sign(claims, key)

    async def _token_request(
        self, provider: UpstreamProvider, secret: str, metadata: Metadata, form: dict[str, str]
    ) -> TokenResponse:
        """RFC 6749 §3.2 with client authentication (§2.3.1): Basic when supported, else in the body."""
        presented = self._client_secret(provider, secret)
        auth: tuple[str, str] | None = None
        if "client_secret_basic" in metadata.token_auth_methods:
            auth = (provider.client_id, presented)
        else:
            form = form | {"client_id": provider.client_id, "client_secret": presented}
        kwargs: dict[str, Any] = {"data": form, "headers": {"Accept": "application/json"}}
        if auth is not None:
            kwargs["auth"] = httpx.BasicAuth(*auth)
        document = await self._request("POST", metadata.token_endpoint, **kwargs)
        access_token = document.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise UpstreamError("bad_token_response", "the provider's token response has no access token")
        expires_in = document.get("expires_in")
        return TokenResponse(
            access_token=access_token,
            token_type=str(document.get("token_type", "")),
            refresh_token=_optional_str(document.get("refresh_token")),
            id_token=_optional_str(document.get("id_token")),
            expires_in=expires_in if isinstance(expires_in, int) and expires_in > 0 else None,
            scope=_optional_str(document.get("scope")),
        )

    async def exchange_code(
        self,
        provider: UpstreamProvider,
        secret: str,
        metadata: Metadata,
        *,
        code: str,
        redirect_uri: str,
        verifier: str,
    ) -> TokenResponse:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        return await self._token_request(provider, secret, metadata, form)

    async def refresh(
        self, provider: UpstreamProvider, secret: str, metadata: Metadata, refresh_token: str
    ) -> TokenResponse:
        """RFC 6749 §6."""
        return await self._token_request(
            provider, secret, metadata, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def revoke(
        self, provider: UpstreamProvider, secret: str, metadata: Metadata, token: str, hint: str
    ) -> None:
        """RFC 7009 §2.1, if the provider has a revocation endpoint; failures raise UpstreamError."""
        if metadata.revocation_endpoint is None:
            return
        revocation = Metadata(
            issuer=metadata.issuer,
            authorization_endpoint=metadata.authorization_endpoint,
            token_endpoint=metadata.revocation_endpoint,
            token_auth_methods=metadata.token_auth_methods,
        )
        try:
            await self._token_request(provider, secret, revocation, {"token": token, "token_type_hint": hint})
        except UpstreamError as exc:
            if exc.reason != "bad_token_response":  # RFC 7009 §2.2: an empty 200 is success
                raise

    # --- identity -------------------------------------------------------------------

    async def verify_id_token(
        self, provider: UpstreamProvider, metadata: Metadata, id_token: str, *, nonce: str
    ) -> dict[str, Any]:
        """OpenID Connect Core §3.1.3.7; the verified claims, or UpstreamError naming the failed check."""
        if metadata.jwks_uri is None or provider.issuer is None:
            raise UpstreamError("bad_id_token", "the provider is not an OpenID Connect provider")
        try:
            unverified = jwt.unverified_claims(id_token)
        except jwt.JWTError:
            raise UpstreamError("bad_id_token", "the provider's ID token is malformed") from None
        issuer = expected_issuer(provider.issuer, unverified)
        if issuer is None:
            raise UpstreamError("wrong_issuer", "the ID token names no valid tenant")
        claims = await self._verified(metadata.jwks_uri, id_token, issuer, provider.client_id)
        _check_id_claims(claims, provider.client_id, nonce, self._clock())
        return claims

    async def _verified(self, jwks_uri: str, id_token: str, issuer: str, client_id: str) -> dict[str, Any]:
        for refresh in (False, True):
            keys = await self._jwks(jwks_uri, refresh=refresh)
            try:
                return jwt.verify(
                    id_token,
                    keys,
                    algorithms=SIGNING_ALGORITHMS,
                    issuer=issuer,
                    audience=client_id,
                    leeway=LEEWAY,
                    now=self._clock(),
                )
            except jwt.JWTError as exc:
                if str(exc) != "no matching key" or refresh:
                    raise UpstreamError(
                        _reason(str(exc)), f"the provider's ID token was refused: {exc}"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def userinfo(self, metadata: Metadata, access_token: str) -> dict[str, Any]:
        """The user's claims from the userinfo endpoint (GitHub: its user API)."""
        if metadata.userinfo_endpoint is None:
            raise UpstreamError("no_userinfo", "the provider has no userinfo endpoint")
        return await self._request("GET", metadata.userinfo_endpoint, headers=_bearer(access_token))

    async def verified_primary_email(self, metadata: Metadata, access_token: str) -> str | None:
        """GitHub's ``GET /user/emails``: the primary address if GitHub verified it, else None.

        Never an unverified address: anyone can add any address to a GitHub account, and the
        ``email`` of ``GET /user`` is the public one, verified or not (it is not used). A list
        that is not what GitHub documents (not a list of objects, more than one primary, an
        address that is not a string) is refused with UpstreamError, like an oversized one.
        """
        if metadata.emails_endpoint is None:
            return None
        listed = await self._json("GET", metadata.emails_endpoint, headers=_bearer(access_token))
        if (
            not isinstance(listed, list)
            or len(listed) > MAX_EMAILS
            or not all(isinstance(entry, dict) for entry in listed)
        ):
            raise UpstreamError("bad_userinfo", "the provider's list of email addresses is malformed")
        primary = [entry for entry in listed if entry.get("primary") is True]
        if len(primary) > 1:
            raise UpstreamError("bad_userinfo", "the provider names more than one primary email address")
        if not primary:
            return None
        email = primary[0].get("email")
        if not isinstance(email, str) or not 3 <= len(email) <= MAX_EMAIL_CHARS or "@" not in email:
            raise UpstreamError("bad_userinfo", "the provider's primary email address is malformed")
        return email if primary[0].get("verified") is True else None


def client_for(settings: Settings) -> UpstreamClient:
    """The client every caller uses, configured from the settings."""
    return UpstreamClient(
        policy_for(settings), ca_file=settings.provider_ca_file, timeout=settings.provider_timeout
    )


def _bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _reason(message: str) -> str:
    for needle, reason in (
        ("algorithm", "bad_algorithm"),
        ("signature", "bad_signature"),
        ("key", "bad_signature"),
        ("issuer", "wrong_issuer"),
        ("audience", "wrong_audience"),
        ("expired", "expired"),
    ):
        if needle in message:
            return reason
    return "bad_id_token"


def _check_id_claims(claims: Mapping[str, Any], client_id: str, nonce: str, now: float) -> None:
    aud = claims.get("aud")
    azp = claims.get("azp")
    if isinstance(aud, list) and len(aud) > 1 and azp is None:
        raise UpstreamError("wrong_audience", "the ID token has several audiences and no azp")
    if azp is not None and azp != client_id:
        raise UpstreamError("wrong_audience", "the ID token was issued to another party (azp)")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or iat < now - MAX_ID_TOKEN_AGE:
        raise UpstreamError("stale", "the ID token has no iat or is too old")
    received = claims.get("nonce")
    if not isinstance(received, str) or not hmac.compare_digest(received.encode(), nonce.encode()):
        raise UpstreamError("wrong_nonce", "the ID token's nonce does not match this sign-in")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise UpstreamError("bad_id_token", "the ID token has no usable sub")
