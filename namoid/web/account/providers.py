"""``{issuer}/account/providers``: the user's connected providers (issue 12 in the console).

Listed: each provider the org offers, and for a connected one when it was connected and last
used (metadata only; tokens never leave the vault). Connecting is a CSRF-protected POST that
needs a fresh sign-in and starts the provider trip bound to this browser session (the GET
that did so is gone: with a login CSRF at the upstream it could link an attacker's upstream
identity to the victim's account). Disconnecting revokes the tokens upstream (RFC 7009),
destroys them and appends the consent withdrawal (``providers.access.disconnect``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from namoid.oauth.authorization_response import csp_source
from namoid.providers import access, connections
from namoid.providers.upstream import UpstreamError, client_for
from namoid.services import Services
from namoid.storage.models import UpstreamProvider
from namoid.storage.repos import upstream_providers
from namoid.web.account.console_auth import Console, ConsoleUser, console_page, require_fresh_auth
from namoid.web.providers import enabled_provider, to_upstream

router = APIRouter()
PROVIDERS = "/providers"
Fresh = Annotated[Console, Depends(require_fresh_auth(return_to=PROVIDERS))]
MAX_NAME = 40


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _render(
    request: Request, console: Console, *, notice: str | None = None, error: str | None = None
) -> Response:
    services = _services(request)
    async with services.db.tenant(console.org.id) as session:
        offered = [p for p in await upstream_providers.list_all(session, console.org.id) if p.enabled]
    linked = {
        c.provider_id: c
        for c in await connections.list_for_user(services.db, console.org.id, console.user.id)
    }
    rows = [
        {
            "name": provider.name,
            "connection": linked.get(provider.id),
            "connect_action": console.url(f"{PROVIDERS}/{provider.name}/connect"),
            "disconnect_action": console.url(f"{PROVIDERS}/{provider.name}/disconnect"),
        }
        for provider in offered
    ]
    context = {"providers": rows, "notice": notice, "error": error}
    targets = await _authorization_origins(services, [p for p in offered if p.id not in linked])
    status = 404 if error else 200
    return console_page(request, console, "account_providers.html", context, status, form_targets=targets)


async def _authorization_origins(services: Services, providers: list[UpstreamProvider]) -> list[str]:
    """The origins a connect form's answer redirects to (CSP form-action applies to the redirect
    after a form submission): each provider's authorization endpoint (cached metadata)."""
    client, origins = client_for(services.settings), []
    for provider in providers:
        try:
            source = csp_source((await client.metadata(provider)).authorization_endpoint)
        except UpstreamError:
            continue  # its connect fails with a clear page anyway
        if source is not None:
            origins.append(source)
    return origins


@router.get("/account/providers", include_in_schema=False)
async def providers_page(request: Request, console: ConsoleUser) -> Response:
    return await _render(request, console)


@router.post("/account/providers/{name}/connect", include_in_schema=False)
async def connect(request: Request, console: Fresh, name: str) -> Response:
    """Start connecting ``name`` to this account: to the upstream, bound to this browser."""
    provider = await enabled_provider(request, console.org, name[:MAX_NAME])
    if provider is None:
        return await _render(request, console, error="This organization does not offer that provider.")
    return await to_upstream(
        request, console.org, provider, console.browser, purpose="connect", handle=None, started=None
    )


@router.post("/account/providers/{name}/disconnect", include_in_schema=False)
async def disconnect(request: Request, console: ConsoleUser, name: str) -> Response:
    """End the connection: revoked upstream, tokens destroyed, consent withdrawn."""
    services = _services(request)
    provider = await enabled_provider(request, console.org, name[:MAX_NAME])
    if provider is None:
        return await _render(request, console, error="This organization does not offer that provider.")
    ended = await access.disconnect(
        services.db, services.keyring, client_for(services.settings), provider, console.user.id,
        by="user", actor=console.actor,
    )  # fmt: skip
    notice = f"{provider.name} was disconnected." if ended else f"{provider.name} was not connected."
    return await _render(request, console, notice=notice)
