"""Refresh tokens (RFC 6749 §6, OAuth 2.1 §4.3.1): rotation within a family (DESIGN.md §3).

Each token is opaque (256 bits), stored as SHA-256, and consumed by one UPDATE; the next
one joins the same family. A consumed token presented again revokes the family and every
access token issued from it (RFC 9700 §4.14.2) and raises the ``refresh_token.replayed``
security event: once, by the request whose UPDATE revoked the family, so concurrent replays
and replays of an already revoked family raise no more. Every refusal is the same
invalid_grant, whatever its cause (malformed, unknown, expired, revoked, another client's).

Two simultaneous uses of one token: exactly one wins the consuming UPDATE and rotates; the
other finds the token consumed, is a replay and revokes the family, the winner's new refresh
and access tokens included. This is deliberate (RFC 9700 §4.14.2): the server cannot tell a
racing legitimate client from an attacker holding a stolen token, so both lose the family.

Lifetimes: a family lives ``refresh_token_ttl`` (absolute) and each token ``refresh_idle_ttl``
(idle) but never past its family; the client's values override the org's.

A client gets refresh tokens when it is configured for them (``refresh_tokens``), or when
it holds the ``refresh_token`` grant and the user granted ``offline_access``; the same
condition lets it use this grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import NoReturn

from namoid import audit, events
from namoid.crypto.secrets import new_token, sha256_hex
from namoid.oauth import tokens
from namoid.oauth.errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient
from namoid.oauth.grants import TokenRequest, issue
from namoid.oauth.params import requested_scopes
from namoid.storage.models import Client, Organization, RefreshFamily
from namoid.storage.repos import access_tokens, refresh_tokens

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


def _scope(family: RefreshFamily, request: TokenRequest) -> str:
    """RFC 6749 §6: the original scope, or less; never more."""
    requested = requested_scopes(request.form)
    if requested is None:
        return family.scope
    if not requested or not set(requested) <= set(family.scope.split(" ")):
        raise InvalidScope("the requested scope exceeds the original grant")
    return " ".join(requested)


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
        await _replayed(request, family)
    if min(token.expires_at, family.expires_at) <= now:
        raise InvalidGrant(_REFUSED)
    scope = _scope(family, request)
    if await tokens.active_user(session, org_id, family.user_id) is None:
        raise InvalidGrant(_REFUSED)
    if not await refresh_tokens.consume(session, org_id, token.id, now):
        await _replayed(request, family)
    await audit.record(
        session,
        org_id,
        actor=audit.Actor("client", client.client_id),
        action="refresh_token.rotated",
        target_type="refresh_family",
        target_id=str(family.id),
        detail={"family": str(family.id), "client_id": client.client_id},
    )
    grant = tokens.Grant(
        client_id=client.client_id,
        scope=scope,
        user_id=family.user_id,
        auth_time=family.auth_time,
        amr=family.amr,
        sid=family.sid,
        family_id=family.id,
    )
    return await issue(request, grant, refresh_token=await _add_token(request, family))
