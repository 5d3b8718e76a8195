"""``namoid admin bootstrap``: the platform organization and its first admin (issue 16)."""

from __future__ import annotations

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
    ``org_admin``; refused if a platform org exists. Each step is audited."""
    users.normalize_email(email)  # bad input fails before anything is written
    org = await organizations.create(db, keyring, slug, "Platform", actor, platform=True)
    admin = await users.create(db, org.id, email=email, password=None, phone=None, name=None, actor=actor)
    await roles.grant(db, org.id, admin.id, "org_admin", actor)
    return org, admin
