"""One-time sign-in links (issue 16): how the first platform admin, who has no password yet,
gets in (``namoid admin bootstrap``).

A link names a challenge and carries a 256-bit secret: ``<challenge id>.<secret>``. Only a keyed
hash of the secret is stored, in the one-time-code table (``otp_challenges``, purpose
``sign_in_link``, bound to the account's keyed email hash), so it expires with the other
challenges, is swept with them and is consumed by the same single conditional UPDATE: of two
uses, exactly one wins. Redeeming it takes the account's email (not in the link) and a new
password, set in the transaction that consumes the link; both are audited.
"""

from __future__ import annotations

import hmac
import re
import uuid
from datetime import datetime, timedelta

import anyio

from namoid import audit
from namoid.accounts.otp import code_hash
from namoid.accounts.users import normalize_email, validate_password
from namoid.crypto.passwords import hash_password
from namoid.crypto.secrets import new_token, sha256_hex
from namoid.ratelimit.login import account_key
from namoid.storage.db import Database
from namoid.storage.models import OtpChallenge, User
from namoid.storage.repos import otp_challenges, users

PURPOSE = "sign_in_link"
TTL = timedelta(minutes=15)
_FORMAT = re.compile(r"([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})")
MAX_LINK_TOKEN = 80


class LinkRefused(ValueError):
    """The link is unknown, used, expired, or not this account's; nothing changed."""


async def issue(
    db: Database, pepper: bytes, org_id: uuid.UUID, user: User, now: datetime, actor: audit.Actor
) -> str:
    """A new single-use link token for ``user``, valid for ``TTL`` (shown once; stored hashed)."""
    secret, challenge_id = new_token(32), uuid.uuid4()
    async with db.tenant(org_id) as session:
        await otp_challenges.add(
            session,
            org_id,
            OtpChallenge(
                id=challenge_id, purpose=PURPOSE, interaction_hash=sha256_hex(str(challenge_id)),
                destination_hash=account_key(pepper, org_id, user.email),
                code_hash=code_hash(pepper, challenge_id, secret), digits=0, created_at=now,
                expires_at=now + TTL, last_sent_at=now, sends=1, wrong_tries=0,
            ),
        )  # fmt: skip
        await audit.record(
            session, org_id, actor=actor, action="sign_in_link.issued", target_type="user",
            target_id=str(user.id), detail={"expires_in": int(TTL.total_seconds())},
        )  # fmt: skip
    return f"{challenge_id}.{secret}"


async def redeem(
    db: Database, pepper: bytes, org_id: uuid.UUID, token: str, email: str, password: str, now: datetime
) -> User:
    """Consume the link of account ``email`` and set its password; LinkRefused (or ValueError
    for a password that does not fit) otherwise, changing nothing."""
    match = _FORMAT.fullmatch(token) if len(token) <= MAX_LINK_TOKEN else None
    if match is None:
        raise LinkRefused("this sign-in link is not valid")
    challenge_id, secret = uuid.UUID(match[1]), match[2]
    address = normalize_email(email)
    password_hash = await anyio.to_thread.run_sync(hash_password, validate_password(password))
    async with db.tenant(org_id) as session:
        challenge = await otp_challenges.get(session, org_id, challenge_id)
        expected = account_key(pepper, org_id, address)
        if (
            challenge is None
            or challenge.purpose != PURPOSE
            or not hmac.compare_digest(challenge.destination_hash, expected)
        ):
            raise LinkRefused("this sign-in link is not valid for that email address")
        user = await users.get_by_email(session, org_id, address)
        if user is None or user.status != "active" or user.deleted_at is not None:
            raise LinkRefused("this account cannot sign in")
        if not await otp_challenges.consume(
            session, org_id, challenge_id, code_hash(pepper, challenge_id, secret), now
        ):
            raise LinkRefused("this sign-in link was already used or has expired")
        await users.set_password_hash(session, org_id, user.id, password_hash)
        actor = audit.Actor("user", str(user.id))
        for action in ("sign_in_link.used", "user.password_set"):
            await audit.record(
                session, org_id, actor=actor, action=action, target_type="user", target_id=str(user.id)
            )
    return user
