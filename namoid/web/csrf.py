"""CSRF tokens for every form (DESIGN.md §7): an HMAC of the browser session's CSRF secret.

The synchronizer-token pattern without server-side token storage (OWASP CSRF Prevention
Cheat Sheet, "signed double-submit" bound to the session): a token is valid only for the
session whose secret made it, and it is compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.crypto.secrets import constant_time_equals
from namoid.storage.models import BrowserSession

_PURPOSE = b"namoid/csrf/v1"
#: The admin console's forms (on the admin origin) get tokens of their own.
ADMIN_PURPOSE = b"namoid/csrf/admin-console/v1"
MAX_TOKEN_CHARS = 128


def csrf_token(browser: BrowserSession, purpose: bytes = _PURPOSE) -> str:
    digest = hmac.new(browser.csrf_secret.encode("ascii"), purpose, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def csrf_valid(browser: BrowserSession | None, submitted: str, purpose: bytes = _PURPOSE) -> bool:
    """True only if ``submitted`` is the token of the live session ``browser`` for ``purpose``."""
    if browser is None or not submitted or len(submitted) > MAX_TOKEN_CHARS:
        return False
    return constant_time_equals(csrf_token(browser, purpose), submitted)


async def record_refusal(
    session: AsyncSession, org_id: uuid.UUID, browser: BrowserSession | None, form: str
) -> None:
    """Audit a form post refused for its CSRF token (nothing else changes)."""
    user_id = browser.user_id if browser is not None else None
    await audit.record(
        session,
        org_id,
        actor=audit.Actor("user", str(user_id) if user_id is not None else None),
        action="csrf.rejected",
        target_type="form",
        target_id=form,
        outcome="denied",
    )
