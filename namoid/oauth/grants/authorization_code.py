"""The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6).

The code is looked up by its SHA-256 in this org only, must belong to the client, be
unexpired, match the redirect_uri exactly and the PKCE verifier; it is then consumed by one
UPDATE. A used code presented again revokes everything it produced (RFC 6749 §4.1.2) and
raises the ``authorization_code.replayed`` security event once.

A code belongs to the browser session that approved it (its ``sid``): it is redeemed only
while that session is live, or the session it moved to when the same user signed in again
(``accounts.sessions.replace``). A code redeemed after its session's logout would otherwise
start grants bound to a session that is over, which the logout can no longer end. Such a
code is refused (invalid_grant) and spent: it is consumed before the check, so it never
works later either. The session row is held for the rest of the transaction, so a logout
racing the redemption either comes first (and the code is refused) or waits and then ends
the grants it produced.
"""

from __future__ import annotations

from typing import NoReturn

from namoid import audit, events
from namoid.crypto.secrets import sha256_hex
from namoid.kyc import claims as kyc_claims
from namoid.oauth import pkce, tokens
from namoid.oauth.errors import InvalidGrant, InvalidRequest, UnauthorizedClient
from namoid.oauth.grants import TokenRequest, issue, refresh_token
from namoid.storage.models import AuthorizationCode
from namoid.storage.repos import access_tokens, authorization_codes, browser_sessions, refresh_tokens, users

_REFUSED = "the authorization code is invalid, expired or used"


async def _replayed(request: TokenRequest, code: AuthorizationCode) -> NoReturn:
    """RFC 6749 §4.1.2: deny, and revoke the tokens the code already produced.

    The ``authorization_code.replayed`` event is raised by the replay that revoked them; a
    replay that finds nothing left to revoke (a concurrent or later replay, or tokens already
    revoked) raises none, so replays cannot flood subscribers.
    """
    session, org_id, now = request.session, request.org.id, request.now
    families = await refresh_tokens.revoke_families_of_code(session, org_id, code.id, now, "code_replayed")
    revoked = await access_tokens.revoke_for_code(session, org_id, code.id, now)
    if families or revoked:
        await events.raise_event(
            session,
            org_id,
            "authorization_code.replayed",
            actor=audit.Actor("client", code.client_id),
            subject=events.user_subject(code.user_id),
            target_type="authorization_code",
            target_id=str(code.id),
            outcome="denied",
            detail={
                "client_id": code.client_id,
                "user": str(code.user_id),
                "families": [str(family) for family in families],
                "revoked_access": revoked,
            },
        )
    raise InvalidGrant(_REFUSED)


async def _redeemable(request: TokenRequest) -> AuthorizationCode:
    """The presented code if every check of RFC 6749 §4.1.3 and RFC 7636 §4.6 holds."""
    form = request.form
    value, redirect_uri = form.get("code"), form.get("redirect_uri")
    if value is None:
        raise InvalidRequest("code is required")
    if redirect_uri is None:
        raise InvalidRequest("redirect_uri is required")
    code = await authorization_codes.find(request.session, request.org.id, sha256_hex(value))
    if code is None or code.client_id != request.client.client_id:
        raise InvalidGrant(_REFUSED)
    if code.used_at is not None:
        await _replayed(request, code)
    if code.expires_at <= request.now:
        raise InvalidGrant(_REFUSED)
    if code.redirect_uri != redirect_uri:
        raise InvalidGrant("redirect_uri does not match the authorization request")
    pkce.check_verifier(form.get("code_verifier"), code.code_challenge)
    return code


async def authorization_code(request: TokenRequest) -> tokens.Minted:
    """Exchange a code for an access token, an ID token (openid) and maybe a refresh token."""
    session, org_id, client = request.session, request.org.id, request.client
    if "authorization_code" not in client.grant_types:
        raise UnauthorizedClient("the client may not use the authorization_code grant")
    code = await _redeemable(request)
    user = await users.hold_active(session, org_id, code.user_id)  # a racing deletion: see users.hold_active
    if user is None:
        raise InvalidGrant(_REFUSED)
    consumed = await authorization_codes.consume(session, org_id, code.id, request.now)
    if consumed is None:
        await _replayed(request, code)
    sid = consumed.sid
    if sid is not None and not await browser_sessions.hold_live(session, org_id, sid, request.now):
        raise InvalidGrant("the authorization code's session has ended")
    grant = tokens.Grant(
        client_id=client.client_id,
        scope=code.scope,
        user_id=code.user_id,
        auth_time=code.auth_time,
        amr=code.amr,
        sid=sid,
        code_id=code.id,
        userinfo_verified_claims=tuple(code.userinfo_verified_claims or ()),
    )
    refresh = None
    if refresh_token.issued_with(client, code.scope.split(" ")):
        grant, refresh = await refresh_token.start_family(request, grant)
    extra = None
    if code.verified_claims:
        requested = code.verified_claims
        verified = await kyc_claims.verified_claims(session, org_id, request.keyring, user, requested)
        extra = {"verified_claims": verified} if verified is not None else None
    return await issue(request, grant, nonce=code.nonce, refresh_token=refresh, id_token_claims=extra)
