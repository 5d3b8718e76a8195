"""Signing in with, or connecting, an upstream provider: the authorization code flow as a client.

``begin`` stores one trip (state as SHA-256, a nonce, the PKCE verifier under the keyring,
the SHA-256 of a fresh binding value the browser keeps in a cookie) and returns the upstream's
authorization URL with that value. The binding, not the session cookie, ties the callback to
the browser: a ``form_post`` upstream (Apple) returns with a cross-site POST, which carries no
SameSite=Lax cookie, and one rule serves every provider. The trip records the browser session
and, for ``connect``, the user, so the callback needs no session cookie. ``complete``
runs the callback's checks in order, each refusing with a precise reason (RFC 6749 §10.12
CSRF, RFC 9207 mix-up, OpenID Connect Core §3.1.3.7); nothing is linked or stored unless
all pass. What to do with the identity (sign in, link, refuse) is ``resolve``'s decision:
an identity already linked signs its user in; an unknown one is linked only to the user
who is signed in and asked to connect it, never silently to an account with the same
email; a new account is made only if the provider allows it (``--create-accounts``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from namoid import audit
from namoid.crypto.keyring import Keyring, aad_for
from namoid.crypto.secrets import constant_time_equals, new_token, sha256_hex
from namoid.oauth.pkce import s256
from namoid.providers import registry
from namoid.providers.presets import PRESETS
from namoid.providers.upstream import Metadata, TokenResponse, UpstreamClient, UpstreamError
from namoid.providers.vault import UpstreamTokens
from namoid.storage.db import Database
from namoid.storage.models import BrowserSession, ProviderAuthorization, UpstreamProvider
from namoid.storage.repos import provider_authorizations

Purpose = Literal["sign_in", "connect"]
TRIP_TTL: Final = timedelta(minutes=10)
MAX_PARAM: Final = 2048
#: RFC 8176 §2: federated authentication.
FEDERATED_AMR: Final = "fed"


class CallbackRefused(Exception):
    """The callback failed a check: ``reason`` is a short code (audited), the message is shown."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Trip:
    """Where to send the browser, and the binding value it must bring back (its cookie)."""

    url: str
    binding: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the upstream says signed in, with the trip that asked for it and the tokens."""

    trip: ProviderAuthorization
    subject: str
    email: str | None
    email_verified: bool
    tokens: UpstreamTokens


def _verifier_aad(org_id: uuid.UUID, row_id: uuid.UUID) -> bytes:
    return aad_for("provider_authorizations", "verifier_enc", str(org_id), str(row_id))


async def begin(
    db: Database,
    keyring: Keyring,
    client: UpstreamClient,
    provider: UpstreamProvider,
    *,
    redirect_uri: str,
    purpose: Purpose,
    browser: BrowserSession,
    request_handle: str | None,
    user_id: uuid.UUID | None,
    now: datetime,
) -> Trip:
    """Start a trip to the upstream (UpstreamError if unusable)."""
    metadata = await client.metadata(provider)
    state, nonce, verifier, binding = new_token(32), new_token(32), new_token(48), new_token(32)
    row_id = uuid.uuid4()
    async with db.tenant(provider.org_id) as session:
        await provider_authorizations.add(
            session,
            provider.org_id,
            ProviderAuthorization(
                id=row_id,
                state_hash=sha256_hex(state),
                provider_id=provider.id,
                purpose=purpose,
                request_handle=request_handle,
                user_id=user_id,
                browser_sid=browser.sid,
                binding_hash=sha256_hex(binding),
                nonce=nonce,
                verifier_enc=keyring.encrypt(verifier.encode(), _verifier_aad(provider.org_id, row_id)),
                created_at=now,
                expires_at=now + TRIP_TTL,
            ),
        )
        await audit.record(
            session,
            provider.org_id,
            actor=audit.Actor("user", str(user_id) if user_id else None),
            action="provider.authorization_started",
            target_type="provider",
            target_id=provider.name,
            detail={"purpose": purpose, "sid": browser.sid},
        )
    url = client.authorization_url(
        provider, metadata, redirect_uri=redirect_uri, state=state, nonce=nonce, challenge=s256(verifier)
    )
    return Trip(url, binding)


# --- the callback's checks, in order ----------------------------------------------------------


def _param(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and len(value) > MAX_PARAM:
        raise CallbackRefused("malformed", f"the {name} parameter is too long")
    return value or None


def _check_no_error(params: Mapping[str, str]) -> None:
    """RFC 6749 §4.1.2.1: the upstream said no. Its error text is not echoed."""
    if _param(params, "error") is not None:
        raise CallbackRefused("upstream_error", "the provider did not sign you in (it returned an error)")


async def _check_state(
    db: Database, provider: UpstreamProvider, params: Mapping[str, str], now: datetime
) -> ProviderAuthorization:
    """RFC 6749 §10.12: the state must be one we issued, for this provider, unexpired, and unused."""
    state = _param(params, "state")
    if state is None:
        raise CallbackRefused("missing_state", "the response has no state: it was not started here")
    async with db.tenant(provider.org_id) as session:
        trip = await provider_authorizations.find(session, provider.org_id, sha256_hex(state))
        if trip is None or trip.provider_id != provider.id:
            raise CallbackRefused("unknown_state", "the response does not belong to a sign-in started here")
        if trip.expires_at <= now or not await provider_authorizations.use(
            session, provider.org_id, trip.id, now
        ):
            raise CallbackRefused("replayed_state", "this sign-in was already completed or has expired")
    return trip


def _check_binding(trip: ProviderAuthorization, binding: str | None) -> None:
    """The response must come back to the browser that started the trip (RFC 6749 §10.12, login
    CSRF): the one holding the trip cookie whose SHA-256 the trip stored."""
    if (
        binding is None
        or len(binding) > MAX_PARAM
        or trip.binding_hash is None
        or not constant_time_equals(sha256_hex(binding), trip.binding_hash)
    ):
        raise CallbackRefused("other_browser", "the response came back to a different browser")


def _check_issuer(params: Mapping[str, str], issuer: str | None, required: bool) -> None:
    """RFC 9207 §2.4: an ``iss`` must name this provider's issuer; required if it says it sends one."""
    iss = _param(params, "iss")
    if iss is None and required:
        raise CallbackRefused("missing_iss", "the response does not say which provider sent it")
    if iss is not None and iss != issuer:
        raise CallbackRefused("wrong_iss", "the response came from a different provider (mix-up)")


def _tokens(response: TokenResponse, now: datetime) -> UpstreamTokens:
    """The tokens to keep; the granted scopes space-delimited (RFC 6749 §3.3) or, as GitHub
    sends them, comma-delimited."""
    expires = now + timedelta(seconds=response.expires_in) if response.expires_in else None
    scopes = tuple(response.scope.replace(",", " ").split()) if response.scope else ()
    return UpstreamTokens(response.access_token, response.refresh_token, response.id_token, scopes, expires)


async def _identity_claims(
    client: UpstreamClient,
    provider: UpstreamProvider,
    trip: ProviderAuthorization,
    response: TokenResponse,
    meta: Metadata,
) -> dict[str, Any]:
    if PRESETS[provider.preset].is_oidc:
        if response.id_token is None:
            raise UpstreamError("bad_id_token", "the provider sent no ID token")
        return await client.verify_id_token(provider, meta, response.id_token, nonce=trip.nonce)
    info = await client.userinfo(meta, response.access_token)
    subject = info.get("id", info.get("sub"))
    if not isinstance(subject, int | str) or isinstance(subject, bool) or not str(subject):
        raise UpstreamError("bad_userinfo", "the provider's user information has no id")
    email = await client.verified_primary_email(meta, response.access_token)
    return {"sub": str(subject), "email": email, "email_verified": email is not None}


async def complete(
    db: Database,
    keyring: Keyring,
    client: UpstreamClient,
    provider: UpstreamProvider,
    *,
    params: Mapping[str, str],
    binding: str | None,
    redirect_uri: str,
    now: datetime,
) -> Identity:
    """Run every check of the callback; the verified identity, or CallbackRefused (nothing stored).

    ``binding`` is the trip cookie's value as the browser sent it."""
    _check_no_error(params)
    trip = await _check_state(db, provider, params, now)
    _check_binding(trip, binding)
    try:
        metadata = await client.metadata(provider)
        _check_issuer(params, metadata.issuer, metadata.iss_parameter_supported)
        code = _param(params, "code")
        if code is None:
            raise CallbackRefused("missing_code", "the response has no authorization code")
        verifier = keyring.decrypt(trip.verifier_enc, _verifier_aad(provider.org_id, trip.id)).decode()
        secret = registry.client_secret(keyring, provider)
        response = await client.exchange_code(
            provider, secret, metadata, code=code, redirect_uri=redirect_uri, verifier=verifier
        )
        claims = await _identity_claims(client, provider, trip, response, metadata)
    except UpstreamError as exc:
        raise CallbackRefused(exc.reason, str(exc)) from None
    email = claims.get("email")
    return Identity(
        trip=trip,
        subject=str(claims["sub"]),
        email=email if isinstance(email, str) else None,
        email_verified=claims.get("email_verified") is True,
        tokens=_tokens(response, now),
    )


async def record_refusal(
    db: Database, provider: UpstreamProvider, refused: CallbackRefused, browser: BrowserSession | None
) -> None:
    """Audit a refused callback: the reason code, never a parameter or token value."""
    async with db.tenant(provider.org_id) as session:
        await audit.record(
            session,
            provider.org_id,
            actor=audit.Actor("user", str(browser.user_id) if browser and browser.user_id else None),
            action="provider.callback_refused",
            target_type="provider",
            target_id=provider.name,
            outcome="denied",
            detail={"reason": refused.reason},
        )
