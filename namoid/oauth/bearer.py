"""A user's own access token at a NamoID API (RFC 6750): verified, its user active, its scope enough."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from namoid.oauth import tokens
from namoid.oauth.errors import InsufficientScope, InvalidToken
from namoid.services import Services
from namoid.storage.models import Organization, utcnow
from namoid.tenancy.resolve import issuer_for


@dataclass(frozen=True, slots=True)
class Caller:
    """Whose token it is, and the client it was issued to."""

    user_id: uuid.UUID
    client_id: str


async def caller_of(services: Services, org: Organization, token: str, scope: str) -> Caller:
    """The user the token was issued for, and its client; InvalidToken (RFC 6750 §3.1) unless it
    is one of this org's live access tokens for an active user, InsufficientScope unless it
    carries ``scope``."""
    issuer = issuer_for(services.settings.base_url, org.slug)
    published = (await services.signing.for_org(org)).published
    async with services.db.tenant(org.id) as session:
        verified = await tokens.verify_access_token(session, org, issuer, published, token, utcnow())
        user_id = verified.row.user_id
        if user_id is None or await tokens.active_user(session, org.id, user_id) is None:
            raise InvalidToken("the access token is invalid")
    if scope not in verified.row.scope.split(" "):
        raise InsufficientScope(f"the access token lacks the {scope} scope")
    return Caller(user_id, verified.row.client_id)
