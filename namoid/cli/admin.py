"""``namoid admin bootstrap|openapi``: the platform organization, and the admin API's document."""

from __future__ import annotations

from typing import Annotated

import typer

from namoid.accounts import sign_in_links, users
from namoid.admin.bootstrap import bootstrap as bootstrap_platform
from namoid.cli.runtime import cli_actor, emit, run
from namoid.services import Services
from namoid.storage.models import Organization, User, utcnow
from namoid.tenancy import organizations
from namoid.tenancy.resolve import issuer_for

app = typer.Typer(help="The admin API and the platform organization.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

NEXT_STEPS = """created the platform organization {slug} (issuer {issuer})
and its first admin {email} (role org_admin, no password yet).
Open this one-time link within 15 minutes to set the password; it then opens the admin console:
  {link}
(expired? `namoid admin sign-in-link --org {slug} --email {email}` makes a new one).
Automation calls the admin API ({resource}) with a client_credentials token:
  namoid client create --org {slug} --name automation --type confidential --grant-type client_credentials
  namoid client allow-admin --org {slug} --client-id CLIENT_ID --scope admin:clients:read ...
  POST {issuer}/token  grant_type=client_credentials&resource={resource}"""


async def _link(services: Services, org: Organization, user: User) -> str:
    """A one-time sign-in link for ``user`` (``accounts.sign_in_links``), on the org's issuer."""
    token = await sign_in_links.issue(
        services.db, services.keyring.pepper, org.id, user, utcnow(), cli_actor()
    )
    return f"{issuer_for(services.settings.base_url, org.slug)}/sign-in-link?token={token}"


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
        link = await _link(services, org, admin)
        data = {
            "org": org.slug,
            "issuer": issuer,
            "admin": admin.email,
            "admin_api": services.settings.admin_resource,
            "sign_in_link": link,
        }
        human = NEXT_STEPS.format(
            slug=org.slug,
            issuer=issuer,
            email=admin.email,
            resource=services.settings.admin_resource,
            link=link,
        )
        emit(as_json, data, human)

    run(action)


@app.command("sign-in-link")
def sign_in_link(
    org: Annotated[str, typer.Option(help="The organization's slug.")],
    email: Annotated[str, typer.Option(help="The admin's email address.")],
    as_json: JsonFlag = False,
) -> None:
    """A new one-time link (15 minutes) for an admin of ORG to set a password and open the console."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        user = await users.get(services.db, organization.id, email)
        link = await _link(services, organization, user)
        emit(as_json, {"org": organization.slug, "admin": user.email, "sign_in_link": link}, link)

    run(action)


@app.command("openapi")
def openapi() -> None:
    """Print the admin API's OpenAPI 3.1 document (the one checked in as docs/admin-openapi.json)."""
    # The web stack is imported only by the commands that need it (like `namoid serve`).
    from namoid.admin.app import published_document

    typer.echo(published_document(), nl=False)
