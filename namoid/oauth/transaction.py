"""One tenant transaction per protocol request that also commits when the answer is an error.

A protocol error is an *answer*, not a failure: what led to it must persist — the audit
entry of a refused client, the revocations after a replayed code or refresh token
(RFC 6749 §4.1.2, §10.4), a client assertion's ``jti`` (RFC 7523 §3). Any other exception
still rolls the transaction back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.oauth.errors import OAuthError
from namoid.storage.db import Database


@asynccontextmanager
async def protocol_transaction(db: Database, org_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    """``db.tenant(org_id)``, committed on success and on an OAuthError (which is re-raised)."""
    answer: OAuthError | None = None
    async with db.tenant(org_id) as session:
        try:
            yield session
        except OAuthError as exc:
            answer = exc
    if answer is not None:
        raise answer
