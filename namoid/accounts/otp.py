"""One-time-code challenges (issue 11): issue, verify, resend. The HTML flows call these.

A challenge is bound to its purpose and to the browser interaction that asked for it (the
caller's opaque interaction value; only its SHA-256 is stored). Its code comes from the OS
CSPRNG (6 digits by default, 6-8 per org) and is stored only as an HMAC under the keyring's
pepper, keyed to the challenge id. It is used once (one conditional UPDATE), expires after
``ttl`` (5 minutes by default) and dies at the ``MAX_WRONG_TRIES``-th wrong code, counted in
the database so no restart or second node resets it (OWASP Authentication Cheat Sheet;
NIST SP 800-63B §5.1.3). A resend replaces the code after a cool-down, keeps the wrong tries
and is itself capped. Every outcome is audited with the purpose, never the code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from namoid import audit
from namoid.crypto.secrets import new_numeric_code, sha256_hex
from namoid.ratelimit.login import account_key
from namoid.storage.models import OtpChallenge
from namoid.storage.repos import otp_challenges

Purpose = Literal["sign_in", "sign_up", "verify_email", "verify_phone", "password_reset", "second_factor"]
PURPOSES: frozenset[str] = frozenset(Purpose.__args__)  # type: ignore[attr-defined]
DEFAULT_DIGITS = 6
DEFAULT_TTL = timedelta(minutes=5)
MAX_WRONG_TRIES = 5
RESEND_COOLDOWN = timedelta(seconds=30)
MAX_SENDS = 5
#: Anything longer is not a code; it is refused before any work (an 8 KB "code" costs nothing).
_MAX_INPUT = 32

Verdict = Literal["verified", "wrong", "dead", "expired", "used", "unknown", "malformed"]


@dataclass(frozen=True, slots=True)
class Issued:
    challenge_id: uuid.UUID
    code: str  # to be sent, never stored


@dataclass(frozen=True, slots=True)
class Challenger:
    """Who issues and checks codes: the keyring's pepper and the audit actor."""

    pepper: bytes
    actor: audit.Actor


def code_hash(pepper: bytes, challenge_id: uuid.UUID, code: str) -> str:
    """HMAC-SHA-256 (RFC 2104) of the code under the pepper, bound to the challenge."""
    return hmac.new(pepper, f"otp\n{challenge_id}\n{code}".encode(), hashlib.sha256).hexdigest()


def _normalized(code: str, digits: int) -> str | None:
    """The code as ASCII digits (spaces between groups allowed), or None: "١٢٣٤٥٦" is not a code."""
    if not isinstance(code, str) or len(code) > _MAX_INPUT:
        return None
    compact = re.sub(r"[ \t-]", "", code)
    return compact if re.fullmatch(rf"[0-9]{{{digits}}}", compact, flags=re.ASCII) else None


def well_formed(code: str, digits: int = DEFAULT_DIGITS) -> bool:
    """Whether ``code`` could be a code at all (a guess), before any lookup."""
    return _normalized(code, digits) is not None


async def _audit(
    session: AsyncSession,
    who: Challenger,
    org_id: uuid.UUID,
    challenge_id: uuid.UUID,
    action: str,
    outcome: Literal["success", "failure", "denied"],
    **detail: object,
) -> None:
    await audit.record(
        session,
        org_id,
        actor=who.actor,
        action=f"otp.challenge_{action}",
        target_type="otp_challenge",
        target_id=str(challenge_id),
        outcome=outcome,
        detail=detail,
    )


async def issue(
    session: AsyncSession,
    who: Challenger,
    org_id: uuid.UUID,
    *,
    purpose: Purpose,
    interaction: str,
    destination: str,
    now: datetime,
    digits: int = DEFAULT_DIGITS,
    ttl: timedelta = DEFAULT_TTL,
) -> Issued:
    """A new challenge and its code (for the caller to send in the same transaction)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown one-time-code purpose {purpose!r}")
    if not interaction:
        raise ValueError("a challenge must be bound to an interaction")
    code = new_numeric_code(digits)
    challenge_id = uuid.uuid4()
    await otp_challenges.add(
        session,
        org_id,
        OtpChallenge(
            id=challenge_id,
            purpose=purpose,
            interaction_hash=sha256_hex(interaction),
            destination_hash=account_key(who.pepper, org_id, destination),
            code_hash=code_hash(who.pepper, challenge_id, code),
            digits=digits,
            created_at=now,
            expires_at=now + ttl,
            last_sent_at=now,
            sends=1,
            wrong_tries=0,
        ),
    )
    await _audit(session, who, org_id, challenge_id, "created", "success", purpose=purpose, digits=digits)
    return Issued(challenge_id, code)


def _state(challenge: OtpChallenge, now: datetime) -> Verdict | None:
    if challenge.consumed_at is not None:
        return "used"
    if challenge.dead_at is not None:
        return "dead"
    if challenge.expires_at <= now:
        return "expired"
    return None


async def verify(
    session: AsyncSession,
    who: Challenger,
    org_id: uuid.UUID,
    challenge_id: uuid.UUID,
    *,
    purpose: Purpose,
    interaction: str,
    code: str,
    now: datetime,
    destination: str | None = None,
) -> Verdict:
    """Check ``code``: "verified" exactly once; a wrong code counts, the 5th kills the challenge.

    A challenge of another org, purpose, interaction or (if given) destination is "unknown"
    (and counts nothing: the asker cannot guess against it). Malformed input is refused
    before any comparison.
    """
    challenge = await otp_challenges.get(session, org_id, challenge_id)
    if (
        challenge is None
        or challenge.purpose != purpose
        or not hmac.compare_digest(challenge.interaction_hash, sha256_hex(interaction))
        or (
            destination is not None
            and not hmac.compare_digest(
                challenge.destination_hash, account_key(who.pepper, org_id, destination)
            )
        )
    ):
        await _audit(session, who, org_id, challenge_id, "failed", "denied", reason="unknown")
        return "unknown"
    if (normalized := _normalized(code, challenge.digits)) is None:
        await _audit(
            session, who, org_id, challenge_id, "failed", "denied", reason="malformed", purpose=purpose
        )
        return "malformed"
    if (state := _state(challenge, now)) is not None:
        await _audit(session, who, org_id, challenge_id, state, "denied", purpose=purpose)
        return state
    if hmac.compare_digest(challenge.code_hash, code_hash(who.pepper, challenge_id, normalized)):
        if await otp_challenges.consume(session, org_id, challenge_id, challenge.code_hash, now):
            await _audit(session, who, org_id, challenge_id, "verified", "success", purpose=purpose)
            return "verified"
        await _audit(session, who, org_id, challenge_id, "used", "denied", purpose=purpose)
        return "used"  # a concurrent right answer (or a resend) won
    tries = await otp_challenges.count_wrong_try(session, org_id, challenge_id, MAX_WRONG_TRIES, now)
    dead = tries is None or tries >= MAX_WRONG_TRIES
    await _audit(session, who, org_id, challenge_id, "dead" if dead else "failed", "denied",
                 purpose=purpose, wrong_tries=tries)  # fmt: skip
    return "dead" if dead else "wrong"


async def resend(
    session: AsyncSession,
    who: Challenger,
    org_id: uuid.UUID,
    challenge_id: uuid.UUID,
    *,
    interaction: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    cooldown: timedelta = RESEND_COOLDOWN,
) -> str | None:
    """A fresh code for a live challenge of this interaction (the old one stops working), or None
    during the cool-down, after ``MAX_SENDS`` codes, or for a used, dead or expired challenge."""
    challenge = await otp_challenges.get(session, org_id, challenge_id)
    if challenge is None or not hmac.compare_digest(challenge.interaction_hash, sha256_hex(interaction)):
        return None
    code = new_numeric_code(challenge.digits)
    renewed = await otp_challenges.renew_code(
        session, org_id, challenge_id, code_hash(who.pepper, challenge_id, code),
        now, now + ttl, now - cooldown, MAX_SENDS,
    )  # fmt: skip
    if not renewed:
        return None
    await _audit(session, who, org_id, challenge_id, "resent", "success", purpose=challenge.purpose)
    return code
