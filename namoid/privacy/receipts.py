"""Consent receipts: one JSON document per grant, after the Kantara Consent Receipt Specification v1.1.

The Kantara fields (``version``, ``jurisdiction``, ``consentTimestamp``, ``collectionMethod``,
``consentReceiptID``, ``language``, ``piiPrincipalId``, ``piiControllers``, ``policyUrl``,
``services`` with their ``purposes``, ``sensitive``, ``spiCat``) are filled from the consent
ledger; what the specification has no field for (the notice version and SHA-256, the scopes,
the affirmative action, the status) goes under ``namoid``. The org is the controller (the Data
Fiduciary); the relying party is the third party the claims are disclosed to.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from namoid.privacy import client_grants, consent_ledger
from namoid.privacy.withdrawal import ConsentNotFound
from namoid.storage.db import Database
from namoid.storage.models import ConsentRecord, Organization
from namoid.storage.repos import clients, consent_records

KANTARA_VERSION: Final = "KI-CR-v1.1.0"
PURPOSE_TEXT: Final = {
    "sign_in": "Sign you in to the application",
    "share_profile": "Share the listed profile claims with the application",
    "access_while_away": "Let the application keep access while you are not using it",
}


def _purposes(record: ConsentRecord, client_name: str) -> list[dict[str, Any]]:
    implied = record.action == client_grants.IMPLIED_FIRST_PARTY
    return [
        {
            "purpose": PURPOSE_TEXT.get(purpose, purpose),
            "purposeCategory": [purpose],
            "consentType": "IMPLICIT" if implied else "EXPLICIT",
            "piiCategory": list(record.claims or ()),
            "primaryPurpose": purpose == "sign_in",
            "termination": "Until you withdraw it in your account or through the consent API",
            "thirdPartyDisclosure": True,
            "thirdPartyName": client_name,
        }
        for purpose in record.purposes
    ]


async def receipt(
    db: Database, org: Organization, issuer: str, user_id: uuid.UUID, consent_id: uuid.UUID
) -> dict[str, Any]:
    """The receipt for the user's consent ``consent_id`` (its latest grant); ConsentNotFound else."""
    async with db.tenant(org.id) as session:
        records = [
            r
            for r in await consent_records.list_for_org(session, org.id, user_id=user_id)
            if r.consent_id == consent_id and r.kind == "client_grant"
        ]
        grants = [r for r in records if r.event == "granted"]
        if not grants:
            raise ConsentNotFound("no such consent")
        grant = grants[-1]
        client = await clients.get(session, org.id, grant.counterparty)
    client_name = client.name if client is not None else grant.counterparty
    withdrawn = records[-1] if records[-1].event == "withdrawn" else None
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": "IN",
        "consentTimestamp": int(grant.occurred_at.timestamp()),
        "collectionMethod": f"OpenID Connect authorization at {issuer} ({grant.action})",
        "consentReceiptID": f"{consent_id}.{grant.seq}",
        "language": grant.language or "en",
        "piiPrincipalId": str(user_id),
        "piiControllers": [
            {"piiController": org.name, "onBehalf": False, "contact": org.name, "piiControllerUrl": issuer}
        ],
        "policyUrl": f"{issuer}/notice?lang={grant.language or 'en'}",
        "services": [{"service": client_name, "purposes": _purposes(grant, client_name)}],
        "sensitive": False,
        "spiCat": [],
        "namoid": {
            **consent_ledger.summary(grant),
            "status": "withdrawn" if withdrawn is not None else "active",
            "withdrawn_at": withdrawn.occurred_at.isoformat() if withdrawn is not None else None,
        },
    }
