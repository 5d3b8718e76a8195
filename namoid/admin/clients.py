"""``/admin/v1/clients``: an org's OAuth clients, over ``oauth.client_registry`` (the CLI's services).

Admin scopes are not granted here: only the operator grants them (``namoid client allow-admin``),
so an admin token can never widen its own or another client's reach.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from namoid.admin import scopes
from namoid.admin.access import Admin, requires
from namoid.admin.schemas import (
    ClientCreate,
    ClientCreated,
    ClientList,
    ClientOut,
    ClientSecret,
    ClientUpdate,
)
from namoid.oauth import client_metadata, client_registry
from namoid.services import Services

router = APIRouter(prefix="/clients", tags=["clients"])
ClientId = Annotated[str, Path(min_length=1, max_length=64)]
Reader = Annotated[Admin, Depends(requires(scopes.CLIENTS_READ))]
Writer = Annotated[Admin, Depends(requires(scopes.CLIENTS_WRITE))]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@router.get("", response_model=ClientList, summary="List the org's clients")
async def list_clients(request: Request, admin: Reader) -> ClientList:
    found = await client_registry.list_all(_services(request).db, admin.org.id)
    return ClientList(items=[ClientOut.model_validate(client_registry.describe(c)) for c in found])


@router.post("", response_model=ClientCreated, status_code=201, summary="Register a client")
async def create_client(request: Request, admin: Writer, body: ClientCreate) -> ClientCreated:
    fields = body.model_dump()
    meta = client_metadata.validate(client_type=fields.pop("type"), **fields)
    services = _services(request)
    client, secret = await client_registry.register(
        services.db, services.keyring, admin.org.id, meta, admin.actor
    )
    return ClientCreated.model_validate(client_registry.describe(client) | {"client_secret": secret})


@router.get("/{client_id}", response_model=ClientOut, summary="One client")
async def get_client(request: Request, admin: Reader, client_id: ClientId) -> ClientOut:
    client = await client_registry.get(_services(request).db, admin.org.id, client_id)
    return ClientOut.model_validate(client_registry.describe(client))


@router.patch("/{client_id}", response_model=ClientOut, summary="Change its refresh lifetimes")
async def update_client(
    request: Request, admin: Writer, client_id: ClientId, body: ClientUpdate
) -> ClientOut:
    changes = body.model_dump(exclude_none=True)
    db = _services(request).db
    client = await client_registry.set_refresh_lifetimes(db, admin.org.id, client_id, changes, admin.actor)
    return ClientOut.model_validate(client_registry.describe(client))


@router.post("/{client_id}/secret", response_model=ClientSecret, summary="Rotate its secret")
async def rotate_secret(request: Request, admin: Writer, client_id: ClientId) -> ClientSecret:
    services = _services(request)
    secret = await client_registry.rotate_secret(
        services.db, services.keyring, admin.org.id, client_id, admin.actor
    )
    return ClientSecret(client_id=client_id, client_secret=secret)


@router.post("/{client_id}/disable", response_model=ClientOut, summary="Disable it, revoking its tokens")
async def disable_client(request: Request, admin: Writer, client_id: ClientId) -> ClientOut:
    db = _services(request).db
    client = await client_registry.disable(db, admin.org.id, client_id, admin.actor)
    return ClientOut.model_validate(client_registry.describe(client))


@router.post("/{client_id}/enable", response_model=ClientOut, summary="Enable it again")
async def enable_client(request: Request, admin: Writer, client_id: ClientId) -> ClientOut:
    db = _services(request).db
    client = await client_registry.enable(db, admin.org.id, client_id, admin.actor)
    return ClientOut.model_validate(client_registry.describe(client))
