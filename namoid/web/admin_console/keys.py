"""``/console/o/{slug}/keys``: the org's token-signing keys, and rotation (``signing_rotation``).

Reading them needs ``admin:keys:read`` and rotating ``admin:keys:write``, as in the admin API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from namoid.admin import scopes
from namoid.signing_rotation import list_signing_keys, rotate_signing_key
from namoid.web.admin_console.auth import Console, console_page, done, notice, requires, services_of

router = APIRouter(prefix="/keys")
Reader = Annotated[Console, Depends(requires(scopes.KEYS_READ))]
Writer = Annotated[Console, Depends(requires(scopes.KEYS_WRITE))]
NOTICES = {"rotated": "A new signing key is active; the old one stays published until its tokens expire."}


@router.get("", include_in_schema=False)
async def list_keys(request: Request, console: Reader) -> Response:
    found = await list_signing_keys(services_of(request).db, console.org)
    context = {"keys": found, "notice": notice(request, NOTICES)}
    return console_page(request, console, "admin_keys.html", context)


@router.post("/rotate", include_in_schema=False)
async def rotate(request: Request, console: Writer) -> Response:
    services = services_of(request)
    await rotate_signing_key(
        services.db, services.keyring, services.signing, console.org, "RS256", console.actor
    )
    return done(console, "/keys", "rotated")
