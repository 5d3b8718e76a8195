"""``/console/o/{slug}/clients``: list, register (the secret shown once), rotate a secret,
disable/enable, refresh lifetimes; over ``oauth.client_registry`` like the admin API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from namoid.admin import scopes
from namoid.oauth import client_metadata, client_registry
from namoid.web.admin_console.auth import Console, console_page, done, notice, requires, services_of

router = APIRouter(prefix="/clients")
Reader = Annotated[Console, Depends(requires(scopes.CLIENTS_READ))]
Writer = Annotated[Console, Depends(requires(scopes.CLIENTS_WRITE))]
NOTICES = {
    "disabled": "The client was disabled and its tokens revoked.",
    "enabled": "The client was enabled.",
    "lifetimes": "The refresh lifetimes were changed.",
}
LIFETIMES = ("refresh_token_ttl", "refresh_idle_ttl", "refresh_reuse_window")


async def _page(request: Request, console: Console, **context: object) -> Response:
    found = await client_registry.list_all(services_of(request).db, console.org.id)
    described = [client_registry.describe(client) for client in found]
    defaults: dict[str, object] = {"notice": notice(request, NOTICES), "secret": None, "secret_for": None}
    return console_page(request, console, "admin_clients.html", defaults | context | {"clients": described})


@router.get("", include_in_schema=False)
async def list_clients(request: Request, console: Reader) -> Response:
    return await _page(request, console)


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


@router.post("", include_in_schema=False)
async def create_client(request: Request, console: Writer) -> Response:
    """Register a client; a confidential client's secret is on this page only."""
    form = console.form
    meta = client_metadata.validate(
        name=form.get("name", ""),
        client_type=form.get("type", ""),
        redirect_uris=_lines(form.get("redirect_uris", "")),
        scopes=form.get("scopes", "").split() or None,
    )
    services = services_of(request)
    client, secret = await client_registry.register(
        services.db, services.keyring, console.org.id, meta, console.actor
    )
    shown = f"The client {client.name} was registered as {client.client_id}."
    return await _page(request, console, notice=shown, secret=secret, secret_for=client.client_id)


@router.post("/{client_id}/secret", include_in_schema=False)
async def rotate_secret(request: Request, console: Writer, client_id: str) -> Response:
    services = services_of(request)
    secret = await client_registry.rotate_secret(
        services.db, services.keyring, console.org.id, client_id, console.actor
    )
    shown = f"The secret of {client_id} was replaced; the old one no longer works."
    return await _page(request, console, notice=shown, secret=secret, secret_for=client_id)


@router.post("/{client_id}/disable", include_in_schema=False)
async def disable_client(request: Request, console: Writer, client_id: str) -> Response:
    await client_registry.disable(services_of(request).db, console.org.id, client_id, console.actor)
    return done(console, "/clients", "disabled")


@router.post("/{client_id}/enable", include_in_schema=False)
async def enable_client(request: Request, console: Writer, client_id: str) -> Response:
    await client_registry.enable(services_of(request).db, console.org.id, client_id, console.actor)
    return done(console, "/clients", "enabled")


@router.post("/{client_id}/lifetimes", include_in_schema=False)
async def set_lifetimes(request: Request, console: Writer, client_id: str) -> Response:
    """Refresh lifetimes in seconds; an empty field keeps its value."""
    given = {name: console.form.get(name, "").strip() for name in LIFETIMES}
    if any(value and not value.isdigit() for value in given.values()):
        raise ValueError("lifetimes are whole numbers of seconds")
    changes = {name: int(value) for name, value in given.items() if value}
    db = services_of(request).db
    await client_registry.set_refresh_lifetimes(db, console.org.id, client_id, changes, console.actor)
    return done(console, "/clients", "lifetimes")
