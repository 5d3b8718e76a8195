"""Withdrawing consent to a relying party, as easily as it was given (DPDP Act s.6(4), s.6(6)).

One function for the account console and the API. In one transaction: the remembered
consent is forgotten (a later authorization asks again), the user's refresh families,
access tokens and unredeemed codes at that client are revoked through the one revocation
module (so userinfo and introspection refuse them: no claim is released any more), the
withdrawal is appended to the consent ledger, and the ``consent.withdrawn`` security event
is queued for the org's webhook subscribers as a signed SET (namoid.events.catalog).
Withdrawing again changes nothing; someone else's consent is not found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Final

from namoid import audit, events
from namoid.oauth import grant_revocation
from namoid.privacy import consent_ledger
from namoid.storage.db import Database
from namoid.storage.models import utcnow
from namoid.storage.repos import consents

REASON: Final = "consent_withdrawn"
#: CAEP 1.0 §2 ``reason_user``: what the relying party may show the user.
REASON_USER: Final = {
    "en": "You withdrew your consent to share your data with this application.",
    "hi": "आपने इस एप्लिकेशन के साथ अपना डेटा साझा करने की सहमति वापस ले ली है।",
}


class ConsentNotFound(LookupError):
    """No consent with that id is the user's (it may exist for another user: not said)."""


@dataclass(frozen=True, slots=True)
class Withdrawal:
    consent_id: uuid.UUID
    client_id: str
    #: False when it had already been withdrawn (nothing changed this time).
    changed: bool
    revoked: grant_revocation.Revoked = field(default_factory=grant_revocation.Revoked)


async def withdraw(
    db: Database, org_id: uuid.UUID, user_id: uuid.UUID, consent_id: uuid.UUID, *, how: str
) -> Withdrawal:
    """Withdraw the user's consent ``consent_id``; ``how`` names the channel (``console``, ``api``)."""
    actor = audit.Actor("user", str(user_id))
    now = utcnow()
    async with db.tenant(org_id) as session:
        consent = await consents.get_by_id(session, org_id, consent_id)
        if consent is None or consent.user_id != user_id:
            last = await consent_ledger.latest(session, org_id, consent_id)
            if last is None or last.user_id != user_id or last.kind != "client_grant":
                raise ConsentNotFound("no such consent")
            return Withdrawal(consent_id, last.counterparty, changed=False)
        client_id = consent.client_id
        if not await consents.remove(session, org_id, consent_id):  # a concurrent withdrawal won
            return Withdrawal(consent_id, client_id, changed=False)
        revoked = await grant_revocation.revoke_user_at_client(
            session, org_id, user_id, client_id, now, actor=actor, reason=REASON
        )
        await consent_ledger.record_withdrawal(session, org_id, consent_id, by="user", action=how)
        await events.raise_event(
            session,
            org_id,
            "consent.withdrawn",
            actor=actor,
            subject=events.user_subject(user_id),
            target_type="client",
            target_id=client_id,
            detail={
                "initiating_entity": "user",
                "reason_admin": {"en": "Consent withdrawn by the user (DPDP Act 2023 s.6(4))"},
                "reason_user": REASON_USER,
                "client_id": client_id,
                "consent_id": str(consent_id),
                "how": how,
            },
        )
    return Withdrawal(consent_id, client_id, changed=True, revoked=revoked)
