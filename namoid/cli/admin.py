"""``namoid admin bootstrap|openapi``: the platform organization, and the admin API's document."""

from __future__ import annotations

from typing import Annotated

import typer

from namoid.admin.bootstrap import bootstrap as bootstrap_platform
from namoid.cli.runtime import cli_actor, emit, run
from namoid.services import Services
from namoid.tenancy.resolve import issuer_for

app = typer.Typer(help="The admin API and the platform organization.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

NEXT_STEPS = """created the platform organization {slug} (issuer {issuer})
and its first admin {email} (role org_admin, no password yet).
The admin console and its one-time sign-in link do not exist yet. Until then, call the admin API
({resource}) with a client_credentials token:
  namoid client create --org {slug} --name automation --type confidential --grant-type client_credentials
  namoid client allow-admin --org {slug} --client-id CLIENT_ID --scope admin:clients:read ...
  POST {issuer}/token  grant_type=client_credentials&resource={resource}"""


@app.command("bootstrap")
def bootstrap(
    email: Annotated[str, typer.Option(help="The first platform admin's email address.")],
    slug: Annotated[str, typer.Option(help="The platform organization's slug.")] = "platform",
    as_json: JsonFlag = False,
) -> None:
    """Create the platform organization and its first admin (once per deployment)."""

    async def action(services: Services) -> None:
        org, admin = await bootstrap_platform(services.db, services.keyring, slug, email, cli_actor())
        issuer = issuer_for(services.settings.base_url, org.slug)
        data = {
            "org": org.slug,
            "issuer": issuer,
            "admin": admin.email,
            "admin_api": services.settings.admin_resource,
            "sign_in_link": None,
        }
        human = NEXT_STEPS.format(
            slug=org.slug, issuer=issuer, email=admin.email, resource=services.settings.admin_resource
        )
        emit(as_json, data, human)

    run(action)


@app.command("openapi")
def openapi() -> None:
    """Print the admin API's OpenAPI 3.1 document (the one checked in as docs/admin-openapi.json)."""
    # The web stack is imported only by the commands that need it (like `namoid serve`).
    from namoid.admin.app import published_document

    typer.echo(published_document(), nl=False)
