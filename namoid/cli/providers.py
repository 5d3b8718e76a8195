"""``namoid providers add|list|set-scopes|remove|disconnect|consents``: an org's upstream providers."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from namoid.cli.runtime import cli_actor, emit, fail, run
from namoid.privacy import consent_ledger
from namoid.providers import access, registry
from namoid.providers.presets import PRESETS
from namoid.providers.upstream import client_for
from namoid.services import Services
from namoid.tenancy import organizations
from namoid.tenancy.resolve import issuer_for

app = typer.Typer(help="Upstream identity providers users sign in with or connect.", no_args_is_help=True)
OrgOpt = Annotated[str, typer.Option("--org", help="Organization slug.")]
NameOpt = Annotated[str, typer.Option("--name", help="The provider's name in this organization.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ScopeOpt = Annotated[list[str] | None, typer.Option("--scope", help="A scope to ask for (repeatable).")]
MAX_STDIN = registry.MAX_SECRET + 1


def _read_secret_stdin() -> str:
    """The client secret (Apple: the PEM private key) from standard input, never argv."""
    if sys.stdin is None or sys.stdin.isatty():
        fail("--client-secret-stdin expects the secret on standard input, e.g. from a pipe")
    value = sys.stdin.read(MAX_STDIN).strip()
    if not value:
        fail("no client secret on standard input")
    return value


@app.command("add")
def add(
    org: OrgOpt,
    name: NameOpt,
    preset: Annotated[str, typer.Option("--preset", help=f"One of: {', '.join(PRESETS)}.")],
    client_id: Annotated[str, typer.Option("--client-id", help="NamoID's client id at the upstream.")],
    client_secret_stdin: Annotated[
        bool,
        typer.Option("--client-secret-stdin", help="Read the client secret (Apple: the .p8 key) from stdin."),
    ] = False,
    issuer: Annotated[
        str | None, typer.Option("--issuer", help="The upstream's issuer (oidc; microsoft: one tenant).")
    ] = None,
    scope: ScopeOpt = None,
    team_id: Annotated[str | None, typer.Option("--team-id", help="Apple: the team id.")] = None,
    key_id: Annotated[str | None, typer.Option("--key-id", help="Apple: the id of the key.")] = None,
    create_accounts: Annotated[
        bool,
        typer.Option("--create-accounts", help="Let unknown upstream users create an account (default: no)."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add an upstream provider; prints the redirect URI to register at the upstream."""
    if not client_secret_stdin:
        fail("pass the client secret on standard input with --client-secret-stdin (never as an argument)")
    try:
        spec = registry.validate(
            registry.ProviderSpec(
                name=name,
                preset=preset,
                client_id=client_id,
                client_secret=_read_secret_stdin(),
                issuer=issuer,
                scopes=tuple(scope or ()),
                team_id=team_id,
                key_id=key_id,
                create_accounts=create_accounts,
            )
        )
    except ValueError as exc:
        fail(str(exc))

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        provider = await registry.add(services.db, services.keyring, organization.id, spec, cli_actor())
        data = registry.summary(provider, issuer_for(services.settings.base_url, organization.slug))
        emit(as_json, data, f"provider {provider.name} added\nredirect URI: {data['redirect_uri']}")

    run(action)


@app.command("list")
def list_(org: OrgOpt, as_json: JsonFlag = False) -> None:
    """List the organization's providers (never their secrets)."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        issuer = issuer_for(services.settings.base_url, organization.slug)
        rows = [
            registry.summary(p, issuer) for p in await registry.list_providers(services.db, organization.id)
        ]
        human = "\n".join(f"{r['name']}\t{r['preset']}\t{' '.join(r['scopes'])}" for r in rows)  # type: ignore[arg-type]
        emit(as_json, rows, human or "no providers")

    run(action)


@app.command("set-scopes")
def set_scopes(org: OrgOpt, name: NameOpt, scope: ScopeOpt = None, as_json: JsonFlag = False) -> None:
    """Replace the scopes asked of the upstream (applies to new connections)."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        provider = await registry.set_scopes(services.db, organization.id, name, scope or [], cli_actor())
        emit(as_json, {"name": name, "scopes": provider.scopes}, f"{name}: {' '.join(provider.scopes)}")

    run(action)


@app.command("remove")
def remove(org: OrgOpt, name: NameOpt, as_json: JsonFlag = False) -> None:
    """Remove a provider: its connections end, their stored tokens are destroyed."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        ended = await registry.remove(services.db, organization.id, name, cli_actor())
        emit(
            as_json,
            {"name": name, "connections_ended": ended},
            f"provider {name} removed ({ended} connections)",
        )

    run(action)


@app.command("disconnect")
def disconnect(
    org: OrgOpt,
    name: NameOpt,
    email: Annotated[str, typer.Option("--email", help="The user whose connection ends.")],
    as_json: JsonFlag = False,
) -> None:
    """End a user's connection: tokens revoked upstream (RFC 7009), destroyed, consent withdrawn."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        provider = await registry.get(services.db, organization.id, name)
        if provider is None:
            raise LookupError(f"no provider {name!r} in this organization")
        user_id = await access.user_id_by_email(services.db, organization.id, email)
        ended = await access.disconnect(
            services.db,
            services.keyring,
            client_for(services.settings),
            provider,
            user_id,
            by="admin",
            actor=cli_actor(),
        )
        emit(
            as_json,
            {"name": name, "email": email, "disconnected": ended},
            "disconnected" if ended else "not connected",
        )

    run(action)


@app.command("consents")
def consents(org: OrgOpt, as_json: JsonFlag = False) -> None:
    """The organization's consent ledger: every grant and withdrawal, oldest first."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        rows = [
            consent_ledger.summary(r) for r in await consent_ledger.list_records(services.db, organization.id)
        ]
        human = "\n".join(
            f"{r['occurred_at']}\t{r['event']}\t{r['kind']}\t{r['counterparty']}\t{r['user_id']}"
            for r in rows
        )
        emit(as_json, rows, human or "no consent records")

    run(action)
