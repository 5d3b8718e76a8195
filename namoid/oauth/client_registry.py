"""Registering clients and rotating their secrets (secrets shown once, stored as HMAC)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict

from namoid import audit
from namoid.crypto.keyring import Keyring
from namoid.crypto.secrets import hash_client_secret, new_token
from namoid.oauth.client_metadata import ClientMetadata
from namoid.signing import as_algorithm, ensure_key
from namoid.storage.db import Database
from namoid.storage.models import Client
from namoid.storage.repos import clients


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
        await ensure_key(session, keyring, org_id, as_algorithm(meta.id_token_signed_response_alg), actor)
        await clients.create(session, org_id, client)
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="client.created",
            target_type="client",
            target_id=client.client_id,
            detail={
                "type": meta.client_type,
                "grants": meta.grant_types,
                "auth_method": meta.token_endpoint_auth_method,
            },
        )
    return client, secret


async def rotate_secret(
    db: Database, keyring: Keyring, org_id: uuid.UUID, client_id: str, actor: audit.Actor
) -> str:
    """Replace a confidential client's secret; the old one stops working at once."""
    secret = new_token(32)
    async with db.tenant(org_id) as session:
        client = await clients.get(session, org_id, client_id)
        if client is None:
            raise LookupError(f"no client {client_id!r} in this organization")
        if client.client_type != "confidential":
            raise ValueError("public clients have no secret")
        await clients.set_secret_hash(session, org_id, client_id, hash_client_secret(secret, keyring.pepper))
        await audit.record(
            session,
            org_id,
            actor=actor,
            action="client.secret_rotated",
            target_type="client",
            target_id=client_id,
        )
    return secret


async def list_all(db: Database, org_id: uuid.UUID) -> Sequence[Client]:
    async with db.tenant(org_id) as session:
        return await clients.list_all(session, org_id)
