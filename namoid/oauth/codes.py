"""Issuing authorization codes: 256-bit random, returned once, stored as SHA-256 (DESIGN.md §3)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.crypto.secrets import new_token, sha256_hex
from namoid.storage.models import AuthorizationCode, Organization, utcnow
from namoid.storage.repos import authorization_codes


@dataclass(frozen=True, slots=True)
class CodeGrant:
    """What the user approved at /authorize, bound into the code (RFC 6749 §4.1.2, RFC 7636 §4.4)."""

    client_id: str
    user_id: uuid.UUID
    redirect_uri: str
    scope: str
    code_challenge: str
    nonce: str | None
    sid: str | None
    auth_time: datetime
    amr: list[str]
    #: Consented claims for ``verified_claims`` in the ID token (IDA 1.0); empty if none.
    verified_claims: tuple[str, ...] = ()
    #: The same, at UserInfo (carried to the access tokens of the grant).
    userinfo_verified_claims: tuple[str, ...] = ()


async def issue(session: AsyncSession, org: Organization, grant: CodeGrant) -> str:
    """Store a new code for ``grant`` in the caller's transaction and return it (shown only now)."""
    code = new_token(32)
    await authorization_codes.add(
        session,
        org.id,
        AuthorizationCode(
            code_hash=sha256_hex(code),
            client_id=grant.client_id,
            user_id=grant.user_id,
            redirect_uri=grant.redirect_uri,
            scope=grant.scope,
            nonce=grant.nonce,
            code_challenge=grant.code_challenge,
            sid=grant.sid,
            auth_time=grant.auth_time,
            amr=grant.amr,
            verified_claims=list(grant.verified_claims) or None,
            userinfo_verified_claims=list(grant.userinfo_verified_claims) or None,
            expires_at=utcnow() + timedelta(seconds=org.code_ttl),
        ),
    )
    return code
