"""``namoid admin bootstrap``: the platform organization and its first admin (issue 16)."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from namoid import audit
from namoid.accounts import roles, users
from namoid.crypto.keyring import Keyring
from namoid.storage.db import Database
from namoid.storage.models import Organization, User
from namoid.tenancy import organizations


async def bootstrap(
    db: Database, keyring: Keyring, slug: str, email: str, actor: audit.Actor
) -> tuple[Organization, User]:
    """Create the one platform org, a user ``email`` in it (no password yet) and make them its
    ``org_admin``, each step audited, in one transaction: all of it or nothing (a refusal, e.g.
    a platform org exists, leaves no half-made org behind)."""
    email = users.normalize_email(email)  # bad input fails before anything is written
    org_id = uuid.uuid4()
    try:
        async with db.tenant(org_id) as session:
            org = await organizations.create_in(
                session, keyring, org_id, slug, "Platform", actor, platform=True
            )
            admin = await users.create_in(
                session, org_id, email=email, password_hash=None, phone=None, name=None, actor=actor
            )
            await roles.grant_in(session, org_id, admin, "org_admin", actor)
    except IntegrityError as exc:
        raise organizations.OrganizationExists(f"organization {slug!r} already exists") from exc
    return org, admin
