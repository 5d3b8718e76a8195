"""``/admin/v1/keys``: the org's token-signing keys (DESIGN.md §3), over ``signing_rotation``
(the service ``namoid keys rotate-signing`` uses). Only public halves ever leave."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from namoid.admin import scopes
from namoid.admin.access import Admin, requires
from namoid.admin.schemas import KeyRotate, KeyRotation, SigningKeyList, SigningKeyOut
from namoid.services import Services
from namoid.signing_rotation import list_signing_keys, rotate_signing_key

router = APIRouter(prefix="/keys", tags=["keys"])
Reader = Annotated[Admin, Depends(requires(scopes.KEYS_READ))]
Writer = Annotated[Admin, Depends(requires(scopes.KEYS_WRITE))]


@router.get("", response_model=SigningKeyList, summary="The org's signing keys (public parts)")
async def list_keys(request: Request, admin: Reader) -> SigningKeyList:
    services: Services = request.app.state.services
    found = await list_signing_keys(services.db, admin.org)
    return SigningKeyList(
        items=[
            SigningKeyOut(
                kid=key.kid,
                alg=key.alg,
                status=key.status,
                published=published,
                created_at=key.created_at,
                retired_at=key.retired_at,
                public_jwk=key.public_jwk,
            )
            for key, published in found
        ]
    )


@router.post("/rotate", response_model=KeyRotation, summary="Rotate: a new active key, the old one retired")
async def rotate_key(request: Request, admin: Writer, body: KeyRotate | None = None) -> KeyRotation:
    services: Services = request.app.state.services
    alg = body.alg if body else "RS256"
    done = await rotate_signing_key(
        services.db, services.keyring, services.signing, admin.org, alg, admin.actor
    )
    return KeyRotation(kid=done.kid, alg=done.alg, retired=done.retired, removed=done.removed)
