"""Registering and administering clients: secrets (shown once, stored as HMAC), refresh
lifetimes and reuse window, and disabling. Every change raises its ``client.*`` security event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit, events
from namoid.admin.scopes import validate_admin_scopes
from namoid.conflicts import StateConflict
from namoid.crypto.keyring import Keyring
from namoid.crypto.secrets import hash_client_secret, new_token
from namoid.oauth import grant_revocation
from namoid.oauth.client_metadata import ClientMetadata, check_refresh_reuse_window
from namoid.signing import as_algorithm, ensure_key
from namoid.storage.db import Database
from namoid.storage.models import Client, Organization, utcnow
from namoid.storage.repos import clients, organizations
from namoid.tenancy.organizations import check_lifetime

REFRESH_LIFETIMES = ("refresh_token_ttl", "refresh_idle_ttl")
#: What ``set_refresh_lifetimes`` may change: the lifetimes and the reuse window.
REFRESH_SETTINGS = (*REFRESH_LIFETIMES, "refresh_reuse_window")


async def _client_event(
    session: AsyncSession,
    org_id: uuid.UUID,
    name: str,
    client_id: str,
    actor: audit.Actor,
    detail: dict[str, Any] | None = None,
) -> None:
    await events.raise_event(
        session,
        org_id,
        name,
        actor=actor,
        subject=events.opaque_subject(client_id),
        target_type="client",
        target_id=client_id,
        detail=detail,
    )


async def _org(session: AsyncSession, org_id: uuid.UUID) -> Organization:
    org = await organizations.get(session, org_id)
    if org is None:
        raise LookupError("no such organization")
    return org


async def _require(session: AsyncSession, org_id: uuid.UUID, client_id: str) -> Client:
    client = await clients.get(session, org_id, client_id)
    if client is None:
        raise LookupError(f"no client {client_id!r} in this organization")
    return client


def _refresh_overrides(client: Client | ClientMetadata) -> dict[str, int]:
    return {name: value for name in REFRESH_LIFETIMES if (value := getattr(client, name)) is not None}


def _check_refresh_overrides(org: Organization, overrides: dict[str, int]) -> None:
    """Each within the org bounds; a client's own idle limit within its absolute one (the
    client's, else the org's). An inherited idle limit above the client's absolute one is
    simply cut short by it: no token outlives its family."""
    for name, seconds in overrides.items():
        check_lifetime(name, seconds)
    idle = overrides.get("refresh_idle_ttl")
    if idle is not None and idle > overrides.get("refresh_token_ttl", org.refresh_token_ttl):
        raise ValueError("refresh_idle_ttl cannot exceed refresh_token_ttl (the client's, else the org's)")


async def register(
    db: Database, keyring: Keyring, org_id: uuid.UUID, meta: ClientMetadata, actor: audit.Actor
) -> tuple[Client, str | None]:
    """Insert a client; return it with its secret (None for public clients), shown only now."""
    secret = new_token(32) if meta.client_type == "confidential" else None
    fields = asdict(meta)
    client = Client(
        client_id=new_token(18),
        secret_hash=hash_client_secret(secret, keyring.pepper) if secret else None,
        status="active",
        **fields,
    )
    async with db.tenant(org_id) as session:
        _check_refresh_overrides(await _org(session, org_id), _refresh_overrides(meta))
        await ensure_key(session, keyring, org_id, as_algorithm(meta.id_token_signed_response_alg), actor)
        await clients.create(session, org_id, client)
        detail = {
            "type": meta.client_type,
            "grants": meta.grant_types,
            "auth_method": meta.token_endpoint_auth_method,
        }
        await _client_event(session, org_id, "client.created", client.client_id, actor, detail)
    return client, secret


async def ensure_registered(db: Database, org_id: uuid.UUID, client_id: str, meta: ClientMetadata) -> Client:
    """The org's public first-party client ``client_id`` (one NamoID itself uses, such as the
    account console): registered on first use, its redirect URIs kept equal to ``meta``'s (they
    follow NAMOID_BASE_URL). Idempotent and safe when two first uses race; audited as
    ``client.created`` / ``client.updated`` by the system."""
    if meta.client_type != "public":
        raise ValueError("only public clients are registered implicitly (they have no secret to show)")
    actor = audit.Actor("system")
    try:
        async with db.tenant(org_id) as session:
            client = await clients.get(session, org_id, client_id)
            if client is None:
                client = Client(client_id=client_id, secret_hash=None, status="active", **asdict(meta))
                await clients.create(session, org_id, client)
                created = {"first_party": True}
                await _client_event(session, org_id, "client.created", client_id, actor, created)
            elif client.redirect_uris != meta.redirect_uris:
                await clients.set_redirect_uris(session, org_id, client_id, meta.redirect_uris)
                changed = {"changed": ["redirect_uris"]}
                await _client_event(session, org_id, "client.updated", client_id, actor, changed)
            return client
    except IntegrityError:  # a concurrent first use registered it: use theirs
        async with db.tenant(org_id) as session:
            return await _require(session, org_id, client_id)


async def rotate_secret(
    db: Database, keyring: Keyring, org_id: uuid.UUID, client_id: str, actor: audit.Actor
) -> str:
    """Replace a confidential client's secret; the old one stops working at once."""
    secret = new_token(32)
    async with db.tenant(org_id) as session:
        client = await _require(session, org_id, client_id)
        if client.client_type != "confidential":
            raise ValueError("public clients have no secret")
        await clients.set_secret_hash(session, org_id, client_id, hash_client_secret(secret, keyring.pepper))
        await _client_event(session, org_id, "client.secret_rotated", client_id, actor)
    return secret


async def set_refresh_lifetimes(
    db: Database, org_id: uuid.UUID, client_id: str, changes: dict[str, int], actor: audit.Actor
) -> Client:
    """Override the org's refresh lifetimes for one client (same bounds, idle ≤ absolute) and
    set its reuse window (0-60 s).

    New tokens get them; a family keeps the absolute expiry it started with.
    """
    if not changes:
        raise ValueError("give at least one lifetime to change, e.g. --refresh-ttl 86400")
    lifetimes = {name: seconds for name, seconds in changes.items() if name != "refresh_reuse_window"}
    if "refresh_reuse_window" in changes:
        check_refresh_reuse_window(changes["refresh_reuse_window"])
    async with db.tenant(org_id) as session:
        client = await _require(session, org_id, client_id)
        _check_refresh_overrides(await _org(session, org_id), _refresh_overrides(client) | lifetimes)
        await clients.set_refresh_lifetimes(session, org_id, client_id, changes)
        changed = [f"{name}={seconds}" for name, seconds in sorted(changes.items())]
        await _client_event(session, org_id, "client.updated", client_id, actor, {"changed": changed})
    return client


async def disable(db: Database, org_id: uuid.UUID, client_id: str, actor: audit.Actor) -> Client:
    """Refuse the client everywhere from now on and revoke every token issued to it."""
    async with db.tenant(org_id) as session:
        client = await _require(session, org_id, client_id)
        if client.status != "active":
            raise StateConflict(f"client {client_id!r} is already {client.status}")
        await clients.set_status(session, org_id, client_id, "disabled")
        revoked = await grant_revocation.revoke_client(
            session, org_id, client_id, utcnow(), actor=actor, reason="client_disabled"
        )
        detail = {"families": revoked.families, "access_revoked": revoked.access_tokens}
        await _client_event(session, org_id, "client.disabled", client_id, actor, detail)
    return client


async def enable(db: Database, org_id: uuid.UUID, client_id: str, actor: audit.Actor) -> Client:
    """Accept a disabled client again; the tokens revoked when it was disabled stay revoked."""
    async with db.tenant(org_id) as session:
        client = await _require(session, org_id, client_id)
        if client.status != "disabled":
            raise StateConflict(f"client {client_id!r} is not disabled")
        await clients.set_status(session, org_id, client_id, "active")
        await _client_event(session, org_id, "client.enabled", client_id, actor)
    return client


async def set_admin_scopes(
    db: Database, org_id: uuid.UUID, client_id: str, scopes: Sequence[str], actor: audit.Actor
) -> Client:
    """Grant a confidential client_credentials client exactly ``scopes`` of the admin API (none:
    take them all away); tokens already issued keep their scope until they expire or are revoked."""
    async with db.tenant(org_id) as session:
        granted = validate_admin_scopes(scopes, platform=(await _org(session, org_id)).platform)
        client = await _require(session, org_id, client_id)
        if granted and (
            client.client_type != "confidential" or "client_credentials" not in client.grant_types
        ):
            raise ValueError("admin scopes need a confidential client with the client_credentials grant")
        await clients.set_admin_scopes(session, org_id, client_id, granted)
        await _client_event(session, org_id, "client.updated", client_id, actor, {"admin_scopes": granted})
    return client


def describe(client: Client) -> dict[str, Any]:
    """A client's registration as shown to its org's admins (never its secret)."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "type": client.client_type,
        "auth_method": client.token_endpoint_auth_method,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types,
        "scopes": client.scopes,
        "admin_scopes": client.admin_scopes,
        "first_party": client.first_party,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "introspect_any": client.introspect_any,
        "refresh_tokens": client.refresh_tokens,
        "refresh_token_ttl": client.refresh_token_ttl,
        "refresh_idle_ttl": client.refresh_idle_ttl,
        "refresh_reuse_window": client.refresh_reuse_window,
        "offline_access_on_logout": client.offline_access_on_logout,
        "status": client.status,
    }


async def get(db: Database, org_id: uuid.UUID, client_id: str) -> Client:
    async with db.tenant(org_id) as session:
        return await _require(session, org_id, client_id)


async def list_all(db: Database, org_id: uuid.UUID) -> Sequence[Client]:
    async with db.tenant(org_id) as session:
        return await clients.list_all(session, org_id)
