"""The UserInfo endpoint (OIDC Core §5.3) with bearer tokens (RFC 6750).

The access token comes from the ``Authorization: Bearer`` header (RFC 6750 §2.1) or, on
POST, the ``access_token`` form parameter (§2.2) — never the query string (§2.3 is a
MUST NOT in OAuth 2.1 §5.2) and never two at once (§2). Claims follow the scopes the
token carries (OIDC Core §5.4); the ``openid`` scope is required. ``verified_claims``
(OpenID Connect for Identity Assurance 1.0 §6, from the ``claims`` request's ``userinfo``
member) only as the token's grant records the user consented to them on the consent form,
with the same content as in the ID token (namoid.kyc.claims: the current name, while it
still matches the masked record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from namoid.kyc import claims as kyc_claims
from namoid.oauth import tokens
from namoid.oauth.errors import InsufficientScope, InvalidRequest, InvalidToken
from namoid.services import Services
from namoid.storage.models import Organization, User, utcnow
from namoid.tenancy.resolve import issuer_for


def bearer_token(authorization: str | None, form: Mapping[str, str], in_query: bool) -> str | None:
    """The presented access token, None if there is none (RFC 6750 §3: no error code then)."""
    if in_query:
        raise InvalidRequest("access tokens are not accepted in the query string")
    from_form = form.get("access_token")
    if authorization is not None and from_form is not None:
        raise InvalidRequest("more than one way of presenting the access token")
    if authorization is None:
        return from_form
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    if not token.strip():
        raise InvalidRequest("the Bearer credentials are empty")
    return token.strip()


#: The claims each scope may release (OIDC Core §5.4), for notices, the ledger and receipts.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
}


def claim_names(scopes: Sequence[str], verified_claims: Sequence[str] = ()) -> list[str]:
    """The claims ``scopes`` release, itemised, plus any requested inside ``verified_claims``."""
    names = [claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())]
    return names + [f"verified_claims.{claim}" for claim in verified_claims]


def claims_for(user: User, granted: list[str]) -> dict[str, Any]:
    """Standard claims (OIDC Core §5.1) released by scope (§5.4)."""
    claims: dict[str, Any] = {"sub": str(user.id)}
    if "profile" in granted:
        if user.name:
            claims["name"] = user.name
        claims["updated_at"] = int(user.updated_at.timestamp())
    if "email" in granted:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    if "phone" in granted and user.phone:
        claims["phone_number"] = user.phone
        claims["phone_number_verified"] = False
    return claims


async def userinfo(services: Services, org: Organization, token: str) -> dict[str, Any]:
    """The claims about the token's user; InvalidToken or InsufficientScope otherwise."""
    issuer = issuer_for(services.settings.base_url, org.slug)
    published = (await services.signing.for_org(org)).published
    now = utcnow()
    async with services.db.tenant(org.id) as session:
        verified = await tokens.verify_access_token(session, org, issuer, published, token, now)
        granted = verified.row.scope.split(" ")
        if "openid" not in granted:
            raise InsufficientScope("the access token lacks the openid scope")
        user = None
        if verified.row.user_id is not None:
            user = await tokens.active_user(session, org.id, verified.row.user_id)
        if user is None:
            raise InvalidToken("the access token is invalid")
        claims = claims_for(user, granted)
        consented = verified.row.userinfo_verified_claims
        if consented:
            released = await kyc_claims.verified_claims(session, org.id, services.keyring, user, consented)
            if released is not None:
                claims["verified_claims"] = released
    return claims
