"""Helpers for consent tests: grants through the real browser flow, the consent API's token, the ledger."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx

from namoid import audit
from namoid.oauth import client_metadata, client_registry
from namoid.privacy import consent_ledger
from namoid.storage.models import Consent, ConsentRecord
from namoid.storage.repos import consents
from tests.features.authorize.conftest import REDIRECT_URI, Flow, flow
from tests.features.conftest import RegisteredClient
from tests.features.events.conftest import receiver_tls, settings
from tests.features.revocation.conftest import browser_tokens, inspector

#: Fixtures shared with the authorize, revocation and events tests (HTTPS receivers, as deployed).
__all__ = ["flow", "inspector", "receiver_tls", "settings"]

ADMIN = audit.Actor("admin", "test")


async def first_party(flow: Flow, scopes: list[str]) -> RegisteredClient:
    meta = client_metadata.validate(
        name="Account", client_type="confidential", redirect_uris=[REDIRECT_URI], scopes=scopes,
        first_party=True, grant_types=["authorization_code"],
    )  # fmt: skip
    client, secret = await client_registry.register(
        flow.services.db, flow.services.keyring, flow.org.id, meta, ADMIN
    )
    return RegisteredClient(client, secret)


async def api_token(flow: Flow) -> str:
    """An access token for the flow's user with the ``consents`` scope (a first-party console client)."""
    account = await first_party(flow, ["openid", "consents"])
    return (await browser_tokens(flow, account, "openid consents"))["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def withdraw(flow: Flow, consent_id: uuid.UUID | str, token: str) -> httpx.Response:
    return await flow.http.delete(f"{flow.base}/consents/{consent_id}", headers=bearer(token))


async def remembered(flow: Flow, rp: RegisteredClient | None = None) -> Consent | None:
    async with flow.services.db.tenant(flow.org.id) as session:
        return await consents.get(session, flow.org.id, flow.user.id, (rp or flow.rp).client_id)


async def ledger(flow: Flow) -> list[ConsentRecord]:
    """The user's grants to the flow's relying party, oldest first."""
    records = await consent_ledger.list_records(flow.services.db, flow.org.id, user_id=flow.user.id)
    return [r for r in records if r.kind == "client_grant" and r.counterparty == flow.rp.client_id]


def with_rp(flow: Flow, rp: RegisteredClient) -> Flow:
    return replace(flow, rp=rp)
