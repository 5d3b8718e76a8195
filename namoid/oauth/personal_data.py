"""The protocol room's personal data (DESIGN.md §8): what each relying party was granted and holds.

Per client: the scopes consented to, refresh-token grants (families), access tokens and
authorization codes issued, as metadata only: never a token, a token's hash or its ``jti``.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from namoid.privacy.registry import (
    STRING,
    STRINGS,
    TIME,
    DataPrincipal,
    Erasure,
    Json,
    Section,
    array_of,
    iso,
    nullable,
    obj,
)
from namoid.storage.models import AccessToken, AuthorizationCode, Consent, RefreshFamily
from namoid.storage.repos import clients, personal_data

ISSUED = obj(client_id=STRING, scope=STRING, issued_at=TIME, expires_at=TIME, ended_at=nullable(TIME))


async def _applications(session: AsyncSession, who: DataPrincipal) -> Json:
    org, user = who.org_id, who.user_id
    names = {c.client_id: c.name for c in await clients.list_all(session, org)}
    consents = await personal_data.rows_of_user(session, org, Consent.user_id, user, Consent.created_at)
    families = await personal_data.rows_of_user(
        session, org, RefreshFamily.user_id, user, RefreshFamily.created_at
    )
    tokens = await personal_data.rows_of_user(session, org, AccessToken.user_id, user, AccessToken.created_at)
    codes = await personal_data.rows_of_user(
        session, org, AuthorizationCode.user_id, user, AuthorizationCode.created_at
    )
    return {
        "consents": [
            {
                "client_id": c.client_id,
                "client_name": names.get(c.client_id),
                "scopes": c.scopes,
                "consented_at": iso(c.created_at),
                "updated_at": iso(c.updated_at),
            }
            for c in consents
        ],
        "refresh_grants": [
            {
                "client_id": f.client_id,
                "scope": f.scope,
                "issued_at": iso(f.created_at),
                "expires_at": iso(f.expires_at),
                "ended_at": iso(f.revoked_at),
                "end_reason": f.revoked_reason,
            }
            for f in families
        ],
        "access_tokens": [
            {
                "client_id": t.client_id,
                "scope": t.scope,
                "issued_at": iso(t.created_at),
                "expires_at": iso(t.expires_at),
                "ended_at": iso(t.revoked_at),
            }
            for t in tokens
        ],
        "authorization_codes": [
            {
                "client_id": c.client_id,
                "scope": c.scope,
                "issued_at": iso(c.created_at),
                "expires_at": iso(c.expires_at),
                "ended_at": iso(c.used_at),
            }
            for c in codes
        ],
    }


async def _erase_applications(session: AsyncSession, who: DataPrincipal) -> None:
    org, user = who.org_id, who.user_id
    await personal_data.delete_refresh_tokens_of_user(session, org, user)
    for column in (RefreshFamily.user_id, AccessToken.user_id, AuthorizationCode.user_id, Consent.user_id):
        await personal_data.delete_rows_of_user(session, org, column, user)


APPLICATIONS: Final = Section(
    name="applications",
    title="Connected applications",
    tables=("consents", "refresh_families", "refresh_tokens", "access_tokens", "authorization_codes"),
    schema=obj(
        consents=array_of(
            obj(
                client_id=STRING,
                client_name=nullable(STRING),
                scopes=STRINGS,
                consented_at=TIME,
                updated_at=TIME,
            )
        ),
        refresh_grants=array_of(
            obj(
                client_id=STRING,
                scope=STRING,
                issued_at=TIME,
                expires_at=TIME,
                ended_at=nullable(TIME),
                end_reason=nullable(STRING),
            )
        ),
        access_tokens=array_of(ISSUED),
        authorization_codes=array_of(ISSUED),
    ),
    export=_applications,
    erasure=Erasure("delete", _erase_applications),
)
