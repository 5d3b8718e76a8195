"""Announcing a change to the node caches of every node (``namoid.nodecache``)."""

from __future__ import annotations

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from namoid import nodecache


async def announce(session: AsyncSession, topic: str, key: str) -> None:
    """Drop ``key`` of ``topic`` from every node's caches when this transaction commits (never on
    rollback): here after the commit, on PostgreSQL on every listening node by NOTIFY at the commit."""
    event.listen(
        session.sync_session, "after_commit", lambda _: nodecache.invalidated_here(topic, key), once=True
    )
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(nodecache.CHANNEL, f"{topic} {key}")))
