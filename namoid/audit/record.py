"""Write one audit entry inside the caller's transaction, so change and record commit together."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.storage.repos import audit_log

ActorType = Literal["user", "client", "admin", "system"]
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# Detail keys that could carry a secret are refused outright, not redacted.
_SECRET_KEY = re.compile(r"(?i)(secret|password|token|otp|code|assertion|cookie|private|aadhaar)")


@dataclass(frozen=True, slots=True)
class Actor:
    type: ActorType
    id: str | None = None


#: The background jobs (``namoid worker``, or the server's own task in embedded mode).
WORKER = Actor("system", "worker")


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Who sent the request that caused the change (set by the HTTP middleware)."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


request_meta_var: ContextVar[RequestMeta | None] = ContextVar("namoid_request_meta", default=None)


def _check_detail(detail: dict[str, Any]) -> None:
    for key, value in detail.items():
        if _SECRET_KEY.search(key):
            raise ValueError(f"audit detail key {key!r} could carry a secret")
        if isinstance(value, dict):
            _check_detail(value)


async def record(
    session: AsyncSession,
    org_id: uuid.UUID | None,
    *,
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    outcome: Literal["success", "failure", "denied"] = "success",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an audit entry for ``org_id`` (None for actions outside any organization).

    ``action`` is a dotted verb such as ``client.created``. ``detail`` is small JSON and
    must not carry secrets: keys that look like they could are refused.
    """
    if not _ACTION.match(action):
        raise ValueError(f"audit action {action!r} is not a dotted verb like 'user.created'")
    detail = detail or {}
    _check_detail(detail)
    meta = request_meta_var.get() or RequestMeta()
    await audit_log.append(
        session,
        org_id,
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        ip=meta.ip,
        user_agent=(meta.user_agent or "")[:512] or None,
        request_id=meta.request_id,
        detail=detail,
    )
