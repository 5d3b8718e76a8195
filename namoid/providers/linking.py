"""What a verified upstream identity may do: sign its user in, be connected, or be refused.

Account linking cannot be abused (issue 12 §3):
- an identity already connected signs in its own user, and only that user;
- an unknown identity is connected only to the user who is signed in and asked to connect
  it (purpose ``connect``): the user the trip recorded, whose browser session the trip
  recorded is still live (the callback may be a cross-site POST without the session cookie);
- an unknown identity whose email matches an account is refused, never linked silently:
  the owner signs in with their password and connects the provider from there;
- a new account is created only if the provider allows it (``--create-accounts``) and the
  upstream says the email is verified (GitHub: the primary address of ``GET /user/emails``,
  verified there). Without a verified email no account is created: the user signs in
  another way and connects the provider from their account.
Sign-ins through a provider carry ``amr: ["fed"]`` (RFC 8176 §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.accounts import login as password_login
from namoid.accounts import sessions
from namoid.accounts.users import normalize_email
from namoid.crypto.keyring import Keyring
from namoid.providers import connections, vault
from namoid.providers.signin import FEDERATED_AMR, CallbackRefused, Identity
from namoid.storage.db import Database
from namoid.storage.models import BrowserSession, Organization, UpstreamProvider, User
from namoid.storage.repos import authorization_requests, browser_sessions, provider_connections, users


@dataclass(frozen=True, slots=True)
class Resolution:
    """``started`` is the new browser session of a sign-in; None when a provider was connected."""

    user: User
    started: sessions.Started | None


async def _sign_in(
    session: AsyncSession,
    org: Organization,
    user: User,
    handle: str | None,
    previous: BrowserSession | None,
    now: datetime,
) -> sessions.Started:
    pending = await authorization_requests.find_pending(session, org.id, handle or "", now)
    if pending is None:
        raise CallbackRefused("request_expired", "the sign-in request expired: return to the application")
    try:
        return await password_login.sign_in(
            session, org, user, previous=previous, client_id=pending.client_id, now=now, amr=(FEDERATED_AMR,)
        )
    except password_login.AccountInactive:
        raise CallbackRefused(
            "account_disabled", "the account connected to this provider is not active"
        ) from None


async def _connect(
    session: AsyncSession,
    keyring: Keyring,
    provider: UpstreamProvider,
    identity: Identity,
    browser: BrowserSession | None,
) -> User:
    org_id = provider.org_id
    signed = await sessions.signed_in(session, org_id, browser)
    if signed is None or signed.user.id != identity.trip.user_id:
        raise CallbackRefused("not_signed_in", "sign in to your account again, then connect the provider")
    existing = await provider_connections.find_by_subject(session, org_id, provider.id, identity.subject)
    if existing is not None and existing.user_id != signed.user.id:
        raise CallbackRefused(
            "linked_elsewhere", "this provider account is already connected to another account"
        )
    if existing is None and await provider_connections.find_for_user(
        session, org_id, provider.id, signed.user.id
    ):
        raise CallbackRefused(
            "already_connected", "your account is already connected to another account there"
        )
    if existing is not None:
        await vault.store(session, keyring, existing, identity.tokens)
    else:
        actor = audit.Actor("user", str(signed.user.id))
        await connections.link(
            session, keyring, provider, signed.user.id, identity.subject, identity.tokens, actor
        )
    return signed.user


async def _new_account(
    session: AsyncSession, keyring: Keyring, provider: UpstreamProvider, identity: Identity
) -> User:
    org_id = provider.org_id
    if identity.email is None:
        raise CallbackRefused("not_linked", "no account here is connected to this provider account")
    email = normalize_email(identity.email)
    if await users.get_by_email(session, org_id, email) is not None:
        raise CallbackRefused(
            "account_exists",
            "an account with this email already exists: sign in with your password, "
            "then connect the provider from your account",
        )
    if not provider.create_accounts or not identity.email_verified:
        raise CallbackRefused("not_linked", "no account here is connected to this provider account")
    user = await users.create(session, org_id, email=email, password_hash=None)
    actor = audit.Actor("user", str(user.id))
    await audit.record(
        session, org_id, actor=actor, action="user.created", target_type="user", target_id=str(user.id),
        detail={"provider": provider.name},
    )  # fmt: skip
    await connections.link(session, keyring, provider, user.id, identity.subject, identity.tokens, actor)
    return user


async def resolve(
    db: Database,
    keyring: Keyring,
    org: Organization,
    provider: UpstreamProvider,
    identity: Identity,
    now: datetime,
) -> Resolution:
    """Sign in, connect or refuse (CallbackRefused); all in one transaction, so a refusal stores nothing.

    The browser session is the one the trip recorded (the trip cookie proved the browser)."""
    async with db.tenant(org.id) as session:
        browser = await browser_sessions.find_live_by_sid(session, org.id, identity.trip.browser_sid, now)
        if identity.trip.purpose == "connect":
            return Resolution(await _connect(session, keyring, provider, identity, browser), None)
        existing = await provider_connections.find_by_subject(session, org.id, provider.id, identity.subject)
        if existing is None:
            user = await _new_account(session, keyring, provider, identity)
        else:
            found = await users.get(session, org.id, existing.user_id)
            if found is None or found.status != "active" or found.deleted_at is not None:
                raise CallbackRefused(
                    "account_disabled", "the account connected to this provider is not active"
                )
            user = found
            await vault.store(session, keyring, existing, identity.tokens)
        return Resolution(
            user, await _sign_in(session, org, user, identity.trip.request_handle, browser, now)
        )
