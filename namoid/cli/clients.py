"""``namoid client create|list|rotate-secret``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from namoid.cli.runtime import cli_actor, emit, fail, run
from namoid.oauth import client_metadata, client_registry
from namoid.services import Services
from namoid.storage.models import Client
from namoid.tenancy import organizations

app = typer.Typer(help="OAuth clients of an organization.", no_args_is_help=True)
OrgOpt = Annotated[str, typer.Option("--org", help="Organization slug.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _load_jwks(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        fail(f"cannot read JWKS file {path}: {exc}")
    if not isinstance(data, dict):
        fail(f"JWKS file {path} must hold a JSON object with 'keys'")
    return data


def _summary(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "type": client.client_type,
        "auth_method": client.token_endpoint_auth_method,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types,
        "scopes": client.scopes,
        "first_party": client.first_party,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "introspect_any": client.introspect_any,
        "refresh_tokens": client.refresh_tokens,
        "status": client.status,
    }


@app.command("create")
def create(
    org: OrgOpt,
    name: Annotated[str, typer.Option(help="Display name shown on the consent page.")],
    client_type: Annotated[str, typer.Option("--type", help="confidential or public.")],
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help="Exact redirect URI; repeatable.")
    ] = None,
    post_logout_redirect_uri: Annotated[list[str] | None, typer.Option("--post-logout-redirect-uri")] = None,
    grant_type: Annotated[
        list[str] | None, typer.Option("--grant-type", help="Default: authorization_code.")
    ] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Allowed scope; repeatable.")] = None,
    auth_method: Annotated[str | None, typer.Option("--auth-method")] = None,
    jwks_file: Annotated[
        Path | None, typer.Option("--jwks-file", help="Public JWKS for private_key_jwt.")
    ] = None,
    first_party: Annotated[bool, typer.Option("--first-party", help="Skip the consent page.")] = False,
    id_token_alg: Annotated[
        str, typer.Option("--id-token-alg", help="RS256 (default), PS256 or ES256.")
    ] = "RS256",  # noqa: S107 (an algorithm name)
    introspect_any: Annotated[
        bool, typer.Option("--introspect-any", help="May introspect tokens of other clients.")
    ] = False,
    refresh_tokens: Annotated[
        bool, typer.Option("--refresh-tokens", help="Issue refresh tokens even without offline_access.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register a client. The secret of a confidential client is printed once, now."""
    meta = _validated(
        name=name,
        client_type=client_type,
        redirect_uris=redirect_uri or [],
        post_logout_redirect_uris=post_logout_redirect_uri or [],
        grant_types=grant_type,
        scopes=scope,
        auth_method=auth_method,
        jwks=_load_jwks(jwks_file),
        first_party=first_party,
        id_token_alg=id_token_alg,
        introspect_any=introspect_any,
        refresh_tokens=refresh_tokens,
    )

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        client, secret = await client_registry.register(
            services.db, services.keyring, organization.id, meta, cli_actor()
        )
        data = {"client_id": client.client_id} | ({"client_secret": secret} if secret else {})
        human = f"client_id:     {client.client_id}"
        if secret:
            human += f"\nclient_secret: {secret}\n(store the secret now: it is not shown again)"
        emit(as_json, data, human)

    run(action)


def _validated(**fields: Any) -> client_metadata.ClientMetadata:
    try:
        return client_metadata.validate(**fields)
    except ValueError as exc:
        fail(str(exc))


@app.command("list")
def list_(org: OrgOpt, as_json: JsonFlag = False) -> None:
    """List an organization's clients (never their secrets)."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        rows = [_summary(c) for c in await client_registry.list_all(services.db, organization.id)]
        human = "\n".join(f"{r['client_id']}\t{r['type']}\t{r['name']}" for r in rows) or "no clients"
        emit(as_json, rows, human)

    run(action)


@app.command("rotate-secret")
def rotate_secret(
    org: OrgOpt,
    client_id: Annotated[str, typer.Option("--client-id")],
    as_json: JsonFlag = False,
) -> None:
    """Issue a new secret for a confidential client (printed once); the old one stops working."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        secret = await client_registry.rotate_secret(
            services.db, services.keyring, organization.id, client_id, cli_actor()
        )
        emit(
            as_json,
            {"client_id": client_id, "client_secret": secret},
            f"client_secret: {secret}\n(store the secret now: it is not shown again)",
        )

    run(action)
