"""``namoid org create|list``."""

from __future__ import annotations

from typing import Annotated

import typer

from namoid.cli.runtime import cli_actor, emit, run
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
