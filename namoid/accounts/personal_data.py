"""The accounts room's personal data (DESIGN.md §8): profile, contacts, sign-in methods, roles, sessions.

Never a password hash, a session cookie's hash or a CSRF secret: the export says a password
is set, and which browsers are signed in, nothing that could be replayed.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.privacy.registry import (
    BOOLEAN,
    STRING,
    STRINGS,
    TIME,
    UUID,
    DataPrincipal,
    Erasure,
    Json,
    Section,
    array_of,
    iso,
    nullable,
    obj,
)
from namoid.storage.models import BrowserSession, User, UserRole
from namoid.storage.repos import organizations, personal_data, user_roles, users

CONTACT = obj(type={"enum": ["email", "phone"]}, value=STRING, verified=BOOLEAN)
#: password | email_otp | sms_otp; providers are listed in their own section.
METHOD = obj(method=STRING, available=BOOLEAN)


async def _account(session: AsyncSession, who: DataPrincipal) -> Json:
    user = await users.get(session, who.org_id, who.user_id)
    org = await organizations.get(session, who.org_id)
    if user is None or org is None:
        raise LookupError("no such account")
    contacts: list[Json] = [{"type": "email", "value": user.email, "verified": user.email_verified}]
    if user.phone:
        contacts.append({"type": "phone", "value": user.phone, "verified": user.phone_verified})
    offered = set(org.sign_in_methods)
    methods: list[Json] = [
        {"method": "password", "available": "password" in offered and user.password_hash is not None},
        {"method": "email_otp", "available": "email_otp" in offered and user.email_verified},
        {"method": "sms_otp", "available": "sms_otp" in offered and bool(user.phone) and user.phone_verified},
    ]
    return {
        "profile": {
            "id": str(user.id),
            "name": user.name,
            "status": user.status,
            "created_at": iso(user.created_at),
            "updated_at": iso(user.updated_at),
        },
        "contacts": contacts,
        "sign_in_methods": methods,
        "roles": list(await user_roles.of_user(session, who.org_id, who.user_id)),
    }


async def _sessions(session: AsyncSession, who: DataPrincipal) -> Json:
    rows = await personal_data.rows_of_user(
        session, who.org_id, BrowserSession.user_id, who.user_id, BrowserSession.created_at
    )
    return [
        {
            "sid": row.sid,
            "signed_in_at": iso(row.auth_time),
            "methods": row.amr,
            "created_at": iso(row.created_at),
            "expires_at": iso(row.expires_at),
            "ended_at": iso(row.ended_at),
        }
        for row in rows
    ]


async def _erase_account(session: AsyncSession, who: DataPrincipal) -> None:
    """The user row and its administrative roles: the purge runs this section last, when
    nothing else refers to the row."""
    await personal_data.delete_rows_of_user(session, who.org_id, UserRole.user_id, who.user_id)
    await personal_data.delete_rows_of_user(session, who.org_id, User.id, who.user_id)


async def _erase_sessions(session: AsyncSession, who: DataPrincipal) -> None:
    await personal_data.delete_rows_of_user(session, who.org_id, BrowserSession.user_id, who.user_id)


ACCOUNT: Final = Section(
    name="account",
    title="Profile, contact details, sign-in methods and roles",
    tables=("users", "user_roles"),
    schema=obj(
        profile=obj(id=UUID, name=nullable(STRING), status=STRING, created_at=TIME, updated_at=TIME),
        contacts=array_of(CONTACT),
        sign_in_methods=array_of(METHOD),
        #: Administrative roles in the org (org_admin, auditor), if any.
        roles=STRINGS,
    ),
    export=_account,
    erasure=Erasure("delete", _erase_account),
)

SESSIONS: Final = Section(
    name="sessions",
    title="Signed-in browsers",
    tables=("browser_sessions",),
    schema=array_of(
        obj(
            sid=STRING,
            signed_in_at=nullable(TIME),
            methods=STRINGS,
            created_at=TIME,
            expires_at=TIME,
            ended_at=nullable(TIME),
        )
    ),
    export=_sessions,
    erasure=Erasure("delete", _erase_sessions),
)
