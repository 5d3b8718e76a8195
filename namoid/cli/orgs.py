"""``namoid org create|list``."""

from __future__ import annotations

from typing import Annotated

import typer

from namoid.cli.runtime import cli_actor, emit, run
from namoid.kyc import service as kyc
from namoid.services import Services
from namoid.tenancy import organizations

app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("create")
def create(
    slug: Annotated[str, typer.Argument(help="URL name: the issuer is {base}/o/SLUG.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the slug).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an organization with its first signing key."""

    async def action(services: Services) -> None:
        org = await organizations.create(services.db, services.keyring, slug, name, cli_actor())
        issuer = f"{services.settings.base_url}/o/{org.slug}"
        emit(
            as_json,
            {"id": str(org.id), "slug": org.slug, "name": org.name, "issuer": issuer},
            f"created organization {org.slug} ({org.name}); issuer {issuer}",
        )

    run(action)


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List organizations."""

    async def action(services: Services) -> None:
        orgs = await organizations.list_all(services.db)
        rows = [{"id": str(o.id), "slug": o.slug, "name": o.name, "status": o.status} for o in orgs]
        emit(
            as_json,
            rows,
            "\n".join(f"{r['slug']}\t{r['status']}\t{r['name']}" for r in rows) or "no organizations",
        )

    run(action)


TtlOpt = Annotated[int | None, typer.Option(min=1, help="Seconds.")]


@app.command("set-lifetimes")
def set_lifetimes(
    slug: Annotated[str, typer.Argument(help="Organization slug.")],
    code_ttl: TtlOpt = None,
    access_token_ttl: TtlOpt = None,
    id_token_ttl: TtlOpt = None,
    refresh_token_ttl: TtlOpt = None,
    refresh_idle_ttl: TtlOpt = None,
    session_ttl: TtlOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Change an organization's token and session lifetimes (seconds)."""
    given = {
        "code_ttl": code_ttl,
        "access_token_ttl": access_token_ttl,
        "id_token_ttl": id_token_ttl,
        "refresh_token_ttl": refresh_token_ttl,
        "refresh_idle_ttl": refresh_idle_ttl,
        "session_ttl": session_ttl,
    }
    changes = {name: value for name, value in given.items() if value is not None}

    async def action(services: Services) -> None:
        if not changes:
            raise ValueError("give at least one lifetime to change, e.g. --access-token-ttl 300")
        org = await organizations.set_lifetimes(services.db, slug, changes, cli_actor())
        current = {name: getattr(org, name) for name in organizations.LIFETIME_BOUNDS}
        emit(as_json, current, "\n".join(f"{name}\t{value}" for name, value in current.items()))

    run(action)


@app.command("set-kyc")
def set_kyc(
    slug: Annotated[str, typer.Argument(help="Organization slug.")],
    enable: Annotated[bool, typer.Option("--enable/--disable", help="Offer Aadhaar offline KYC.")],
    max_age_days: Annotated[
        int | None, typer.Option(help="Oldest offline e-KYC file accepted, in days (default 3).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Turn Aadhaar offline KYC on or off for an organization."""

    async def action(services: Services) -> None:
        org = await organizations.require(services.db, slug)
        policy = await kyc.set_policy(services.db, org.id, enable, max_age_days, cli_actor())
        current = {"enabled": policy.enabled, "max_age_days": policy.max_age_days}
        emit(as_json, current, "\n".join(f"{name}\t{value}" for name, value in current.items()))

    run(action)
