"""``namoid webhooks add|list|remove``: an org's receivers of security events (RFC 8935 push)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer

from namoid.cli.runtime import cli_actor, emit, fail, run
from namoid.events import webhooks
from namoid.outbound import policy_for
from namoid.services import Services
from namoid.storage.models import WebhookSubscription
from namoid.tenancy import organizations

app = typer.Typer(help="Webhook receivers of an organization's security events.", no_args_is_help=True)
OrgOpt = Annotated[str, typer.Option("--org", help="Organization slug.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _summary(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": str(subscription.id),
        "url": subscription.url,
        "created_at": subscription.created_at.isoformat(),
    }


@app.command("add")
def add(
    org: OrgOpt,
    url: Annotated[str, typer.Option("--url", help="https URL receiving the signed SETs.")],
    as_json: JsonFlag = False,
) -> None:
    """Send the organization's security events to URL, as signed Security Event Tokens."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        subscription = await webhooks.add(
            services.db, organization.id, url, policy=policy_for(services.settings), actor=cli_actor()
        )
        emit(as_json, _summary(subscription), f"webhook {subscription.id} receives {subscription.url}")

    run(action)


@app.command("list")
def list_(org: OrgOpt, as_json: JsonFlag = False) -> None:
    """List the organization's active webhooks."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        rows = [_summary(s) for s in await webhooks.list_active(services.db, organization.id)]
        emit(as_json, rows, "\n".join(f"{r['id']}\t{r['url']}" for r in rows) or "no webhooks")

    run(action)


@app.command("remove")
def remove(
    org: OrgOpt,
    subscription_id: Annotated[str, typer.Option("--id", help="The webhook's id (see `webhooks list`).")],
    as_json: JsonFlag = False,
) -> None:
    """Stop sending events to a webhook; its undelivered events are dropped."""
    try:
        target = uuid.UUID(subscription_id)
    except ValueError:
        fail(f"--id {subscription_id!r} is not a webhook id (a UUID, see `namoid webhooks list`)")

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        await webhooks.remove(services.db, organization.id, target, cli_actor())
        emit(as_json, {"id": str(target), "removed": True}, f"webhook {target} removed")

    run(action)
