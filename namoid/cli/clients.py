"""``namoid client create|list|rotate-secret|set-lifetimes|set-token-exchange|allow-admin|disable|enable``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from namoid.cli.runtime import cli_actor, emit, fail, run
from namoid.oauth import client_metadata, client_registry
from namoid.providers import exchange_policy
from namoid.services import Services
from namoid.storage.models import Client
from namoid.tenancy import organizations

app = typer.Typer(help="OAuth clients of an organization.", no_args_is_help=True)
OrgOpt = Annotated[str, typer.Option("--org", help="Organization slug.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ClientIdOpt = Annotated[str, typer.Option("--client-id")]
RefreshTtlOpt = Annotated[
    int | None,
    typer.Option("--refresh-ttl", help="Absolute refresh-token lifetime in seconds (org's if unset)."),
]
TokenExchangeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-token-exchange",
        help="A provider whose tokens the client may get for its users by RFC 8693 token exchange "
        "(repeatable; the client also needs the scope provider:NAME, which each user grants).",
    ),
]
RefreshIdleTtlOpt = Annotated[
    int | None,
    typer.Option("--refresh-idle-ttl", help="Idle refresh-token lifetime in seconds (org's if unset)."),
]
RefreshReuseWindowOpt = Annotated[
    int | None,
    typer.Option(
        "--refresh-reuse-window",
        help="Seconds (0-60) after a refresh token's first use in which this client presenting it "
        "again gets the same successor; 0 = off. Unset: 30 for confidential, 15 for public clients.",
    ),
]


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
    refresh_ttl: RefreshTtlOpt = None,
    refresh_idle_ttl: RefreshIdleTtlOpt = None,
    refresh_reuse_window: RefreshReuseWindowOpt = None,
    offline_on_logout: Annotated[
        str,
        typer.Option("--offline-on-logout", help="keep (default) or end offline_access grants at logout."),
    ] = "keep",
    allow_token_exchange: TokenExchangeOpt = None,
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
        refresh_token_ttl=refresh_ttl,
        refresh_idle_ttl=refresh_idle_ttl,
        refresh_reuse_window=refresh_reuse_window,
        offline_access_on_logout=offline_on_logout,
    )

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        for provider in allow_token_exchange or []:
            if exchange_policy.scope_for(provider) not in meta.scopes:
                raise ValueError(
                    f"--allow-token-exchange {provider} needs --scope {exchange_policy.scope_for(provider)}"
                )
        client, secret = await client_registry.register(
            services.db, services.keyring, organization.id, meta, cli_actor()
        )
        if allow_token_exchange:
            await exchange_policy.allow(
                services.db, organization.id, client.client_id, allow_token_exchange, cli_actor()
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
        rows = [
            client_registry.describe(c) for c in await client_registry.list_all(services.db, organization.id)
        ]
        human = "\n".join(f"{r['client_id']}\t{r['type']}\t{r['name']}" for r in rows) or "no clients"
        emit(as_json, rows, human)

    run(action)


@app.command("rotate-secret")
def rotate_secret(
    org: OrgOpt,
    client_id: ClientIdOpt,
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


@app.command("set-lifetimes")
def set_lifetimes(
    org: OrgOpt,
    client_id: ClientIdOpt,
    refresh_ttl: RefreshTtlOpt = None,
    refresh_idle_ttl: RefreshIdleTtlOpt = None,
    refresh_reuse_window: RefreshReuseWindowOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Override the organization's refresh-token lifetimes for one client, or set its reuse window."""
    given = {
        "refresh_token_ttl": refresh_ttl,
        "refresh_idle_ttl": refresh_idle_ttl,
        "refresh_reuse_window": refresh_reuse_window,
    }
    changes = {name: value for name, value in given.items() if value is not None}

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        client = await client_registry.set_refresh_lifetimes(
            services.db, organization.id, client_id, changes, cli_actor()
        )
        current = {name: getattr(client, name) for name in client_registry.REFRESH_SETTINGS}
        emit(as_json, {"client_id": client_id} | current, "\n".join(f"{k}\t{v}" for k, v in current.items()))

    run(action)


@app.command("set-token-exchange")
def set_token_exchange(
    org: OrgOpt,
    client_id: ClientIdOpt,
    allow_token_exchange: TokenExchangeOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Set the providers the client may exchange tokens for (none given: token exchange off)."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        names = await exchange_policy.allow(
            services.db, organization.id, client_id, allow_token_exchange or [], cli_actor()
        )
        emit(
            as_json,
            {"client_id": client_id, "token_exchange": names},
            f"{client_id}: {' '.join(names) or 'none'}",
        )

    run(action)


@app.command("allow-admin")
def allow_admin(
    org: OrgOpt,
    client_id: ClientIdOpt,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="Admin API scope the client may get by client_credentials, e.g. admin:clients:read "
            "(repeatable; none given: take every admin scope away).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set exactly which admin API scopes a confidential client_credentials client may get."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        client = await client_registry.set_admin_scopes(
            services.db, organization.id, client_id, scope or [], cli_actor()
        )
        emit(
            as_json,
            {"client_id": client_id, "admin_scopes": client.admin_scopes},
            f"{client_id}: {' '.join(client.admin_scopes) or 'no admin scopes'}",
        )

    run(action)


@app.command("disable")
def disable(org: OrgOpt, client_id: ClientIdOpt, as_json: JsonFlag = False) -> None:
    """Refuse a client from now on and revoke every token issued to it."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        client = await client_registry.disable(services.db, organization.id, client_id, cli_actor())
        emit(as_json, _status(client), f"client {client_id} disabled; its tokens are revoked")

    run(action)


@app.command("enable")
def enable(org: OrgOpt, client_id: ClientIdOpt, as_json: JsonFlag = False) -> None:
    """Accept a disabled client again (tokens revoked while disabled stay revoked)."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        client = await client_registry.enable(services.db, organization.id, client_id, cli_actor())
        emit(as_json, _status(client), f"client {client_id} enabled")

    run(action)


def _status(client: Client) -> dict[str, Any]:
    return {"client_id": client.client_id, "status": client.status}
