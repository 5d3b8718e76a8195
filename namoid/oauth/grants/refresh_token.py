"""Refresh tokens (RFC 6749 §6, OAuth 2.1 §4.3.1): rotation within a family (DESIGN.md §3).

Each token is opaque (256 bits), stored as SHA-256, and consumed by one UPDATE; the next
one joins the same family. Every refusal is the same invalid_grant, whatever its cause
(malformed, unknown, expired, revoked, another client's).

A consumed token presented again is a replay (RFC 9700 §4.14.2, OAuth 2.1 §4.3.1): the
family and every access token issued from it are revoked and the ``refresh_token.replayed``
security event is raised, once, by the request whose UPDATE revoked the family, so
concurrent replays and replays of an already revoked family raise no more.

One exception, the reuse window: real clients present one token more than once without
being attackers. A relying party behind Apache mod_auth_openidc refreshes from every
parallel page load at once; a mobile app retries a refresh whose response the network lost.
So within ``reuse_window(client)`` seconds (0-60, per client) after a token's first use, the
same token presented again by the same authenticated client, asking for the same scope, is
answered with the first use's response itself: the same successor refresh token and the
same access and ID tokens. The chain never forks (one unused token per family) and a lost
response can be fetched again. That response is kept encrypted under the keyring, bound to
the token's row, in the transaction that consumed the token, and only for the window: the
sweep destroys it. A request that loses the consuming UPDATE to a concurrent one waits for
that transaction (the row lock on PostgreSQL, the write lock on SQLite) and then reads the
committed response; if the winner's transaction failed, nothing was consumed and the waiting
request rotates itself. The kept response is served only while the family is unrevoked and
the user active, and each reuse is audited (``refresh_token.reused_within_grace``). Outside
the window (or with a window of 0) it is a replay as above; another client's or an
unauthenticated presentation never reaches the window (invalid_grant, invalid_client).
Prior art: Okta's grace period for token rotation, Auth0's reuse interval, Ory Hydra's
refresh token rotation grace period and AWS Cognito's retry grace period (0-60 s) also keep
the old token usable for a while. Here a reuse mints nothing: it returns the successor
already issued, so a family never holds two live chains.

Lifetimes: a family lives ``refresh_token_ttl`` (absolute) and each token ``refresh_idle_ttl``
(idle) but never past its family; the client's values override the org's.

A client gets refresh tokens when it is configured for them (``refresh_tokens``), or when
it holds the ``refresh_token`` grant and the user granted ``offline_access``; the same
condition lets it use this grant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, NoReturn

from namoid import audit, events
from namoid.crypto.keyring import KeyringError, aad_for
from namoid.crypto.secrets import new_token, sha256_hex
from namoid.oauth import tokens
from namoid.oauth.client_metadata import DEFAULT_REFRESH_REUSE_WINDOW
from namoid.oauth.errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient
from namoid.oauth.grants import TokenRequest, issue
from namoid.oauth.params import requested_scopes
from namoid.storage.models import Client, Organization, RefreshFamily, RefreshToken
from namoid.storage.repos import access_tokens, refresh_tokens, users

_REFUSED = "the refresh token is invalid, expired or revoked"


def may_refresh(client: Client) -> bool:
    return client.refresh_tokens or "refresh_token" in client.grant_types


def issued_with(client: Client, scopes: Sequence[str]) -> bool:
    """Whether a grant of ``scopes`` to ``client`` comes with a refresh token."""
    return client.refresh_tokens or ("offline_access" in scopes and "refresh_token" in client.grant_types)


def lifetimes(org: Organization, client: Client) -> tuple[int, int]:
    """(absolute, idle) refresh lifetimes in seconds: the client's overrides, else the org's."""
    absolute = client.refresh_token_ttl if client.refresh_token_ttl is not None else org.refresh_token_ttl
    idle = client.refresh_idle_ttl if client.refresh_idle_ttl is not None else org.refresh_idle_ttl
    return absolute, idle


def reuse_window(client: Client) -> int:
    """Seconds after a token's first use in which ``client`` gets the same successor again:
    its own setting, else the default for its type."""
    if client.refresh_reuse_window is not None:
        return client.refresh_reuse_window
    return DEFAULT_REFRESH_REUSE_WINDOW[client.client_type]


async def _add_token(request: TokenRequest, family: RefreshFamily) -> str:
    """A new token of ``family``, idle-expiring but never outliving the family."""
    token = new_token(32)
    _, idle = lifetimes(request.org, request.client)
    expires_at = min(request.now + timedelta(seconds=idle), family.expires_at)
    await refresh_tokens.add(request.session, request.org.id, family.id, sha256_hex(token), expires_at)
    return token


async def start_family(request: TokenRequest, grant: tokens.Grant) -> tuple[tokens.Grant, str]:
    """Open a family for a user grant; returns the grant bound to it and the first token."""
    if grant.user_id is None or grant.auth_time is None:
        raise ValueError("refresh families are for user grants")
    absolute, _ = lifetimes(request.org, request.client)
    family = await refresh_tokens.start_family(
        request.session,
        request.org.id,
        RefreshFamily(
            client_id=grant.client_id,
            user_id=grant.user_id,
            scope=grant.scope,
            sid=grant.sid,
            auth_time=grant.auth_time,
            amr=list(grant.amr),
            code_id=grant.code_id,
            created_at=request.now,
            expires_at=request.now + timedelta(seconds=absolute),
            userinfo_verified_claims=list(grant.userinfo_verified_claims) or None,
        ),
    )
    return replace(grant, family_id=family.id), await _add_token(request, family)


async def _replayed(request: TokenRequest, family: RefreshFamily) -> NoReturn:
    """A consumed token came back: kill the family and its access tokens, raise the event.

    Only the request whose UPDATE revoked the family does so; a concurrent replay finds it
    revoked and just answers invalid_grant.
    """
    session, org_id, now = request.session, request.org.id, request.now
    if await refresh_tokens.revoke_family(session, org_id, family.id, now, "replayed"):
        revoked = await access_tokens.revoke_for_family(session, org_id, family.id, now)
        await events.raise_event(
            session,
            org_id,
            "refresh_token.replayed",
            actor=audit.Actor("client", family.client_id),
            subject=events.user_subject(family.user_id),
            target_type="refresh_family",
            target_id=str(family.id),
            outcome="denied",
            detail={
                "family": str(family.id),
                "client_id": family.client_id,
                "user": str(family.user_id),
                "revoked_access": revoked,
            },
        )
    raise InvalidGrant(_REFUSED)


def _asked_scope(family: RefreshFamily, request: TokenRequest) -> str:
    requested = requested_scopes(request.form)
    return family.scope if requested is None else " ".join(requested)


def _scope(family: RefreshFamily, request: TokenRequest) -> str:
    """RFC 6749 §6: the original scope, or less; never more."""
    scope = _asked_scope(family, request)
    if not scope or not set(scope.split(" ")) <= set(family.scope.split(" ")):
        raise InvalidScope("the requested scope exceeds the original grant")
    return scope


def _grant(client: Client, family: RefreshFamily, scope: str) -> tokens.Grant:
    return tokens.Grant(
        client_id=client.client_id,
        scope=scope,
        user_id=family.user_id,
        auth_time=family.auth_time,
        amr=family.amr,
        sid=family.sid,
        family_id=family.id,
        userinfo_verified_claims=tuple(family.userinfo_verified_claims or ()),
    )


def _successor_aad(org_id: uuid.UUID, token_id: uuid.UUID) -> bytes:
    return aad_for("refresh_tokens", "successor_enc", str(org_id), str(token_id))


async def _keep_for_reuse(request: TokenRequest, token: RefreshToken, minted: tokens.Minted) -> None:
    """Keep the response to ``token``'s first use, encrypted, for the client's reuse window."""
    window = reuse_window(request.client)
    if window == 0:
        return
    org_id = request.org.id
    envelope = request.keyring.encrypt(
        json.dumps(minted.response()).encode("utf-8"), _successor_aad(org_id, token.id)
    )
    until = request.now + timedelta(seconds=window)
    await refresh_tokens.keep_successor(request.session, org_id, token.id, envelope, until)


async def _kept_response(request: TokenRequest, token: RefreshToken) -> dict[str, Any] | None:
    """The first use's response if its window is open and its family alive, else None."""
    session, org_id, now = request.session, request.org.id, request.now
    kept = await refresh_tokens.successor(session, org_id, token.id, now)
    if kept is None:
        return None
    envelope, first_used = kept
    try:
        body: dict[str, Any] = json.loads(request.keyring.decrypt(envelope, _successor_aad(org_id, token.id)))
    except KeyringError:
        return None
    # RFC 6749 §5.1: expires_in counts from this response, not from the first one.
    body["expires_in"] = max(0, body["expires_in"] - int((now - first_used).total_seconds()))
    return body


async def _audit_use(request: TokenRequest, family: RefreshFamily, action: str, **detail: object) -> None:
    client_id = request.client.client_id
    await audit.record(
        request.session,
        request.org.id,
        actor=audit.Actor("client", client_id),
        action=action,
        target_type="refresh_family",
        target_id=str(family.id),
        detail={"family": str(family.id), "client_id": client_id, **detail},
    )


async def _reused_or_replayed(
    request: TokenRequest, token: RefreshToken, family: RefreshFamily
) -> tokens.Minted:
    """A consumed token again: within the reuse window, from its client, asking the same scope,
    the first use's response; otherwise a replay."""
    session, org_id, client = request.session, request.org.id, request.client
    body = await _kept_response(request, token)
    if (
        body is None
        or _asked_scope(family, request) != body["scope"]
        or await tokens.active_user(session, org_id, family.user_id) is None
    ):
        await _replayed(request, family)
    await _audit_use(request, family, "refresh_token.reused_within_grace", window=reuse_window(client))
    return tokens.Minted(
        grant=_grant(client, family, body["scope"]),
        access_token=body["access_token"],
        expires_in=body["expires_in"],
        scope=body["scope"],
        id_token=body.get("id_token"),
        refresh_token=body["refresh_token"],
    )


async def refresh(request: TokenRequest) -> tokens.Minted:
    """Rotate: consume the presented token, issue a new one and fresh access (and ID) tokens."""
    session, org_id, now, client = request.session, request.org.id, request.now, request.client
    if not may_refresh(client):
        raise UnauthorizedClient("the client may not use the refresh_token grant")
    value = request.form.get("refresh_token")
    if value is None:
        raise InvalidRequest("refresh_token is required")
    found = await refresh_tokens.find(session, org_id, sha256_hex(value))
    if found is None or found[1].client_id != client.client_id or found[1].revoked_at is not None:
        raise InvalidGrant(_REFUSED)
    token, family = found
    if token.used_at is not None:
        return await _reused_or_replayed(request, token, family)
    if min(token.expires_at, family.expires_at) <= now:
        raise InvalidGrant(_REFUSED)
    scope = _scope(family, request)
    if await users.hold_active(session, org_id, family.user_id) is None:  # see users.hold_active
        raise InvalidGrant(_REFUSED)
    if not await refresh_tokens.consume(session, org_id, token.id, now):
        # Lost the race: the winner has committed by now (its row lock on PostgreSQL, the
        # database's write lock on SQLite, is what the UPDATE waited for).
        return await _reused_or_replayed(request, token, family)
    await _audit_use(request, family, "refresh_token.rotated")
    minted = await issue(
        request, _grant(client, family, scope), refresh_token=await _add_token(request, family)
    )
    await _keep_for_reuse(request, token, minted)
    return minted
