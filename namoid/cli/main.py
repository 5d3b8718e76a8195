"""``namoid``: server, worker, migrations; orgs, clients, users, keys, webhooks, grievances, audit."""

from __future__ import annotations

import typer

from namoid.cli import (
    admin,
    audit,
    clients,
    dev,
    grievances,
    keys,
    orgs,
    providers,
    server,
    users,
    webhooks,
    worker,
)

app = typer.Typer(
    name="namoid",
    help="NamoID: an OAuth 2.1 / OpenID Connect identity provider.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(server.serve)
app.command("migrate")(server.migrate)
app.command("worker")(worker.worker)
app.add_typer(orgs.app, name="org")
app.add_typer(clients.app, name="client")
app.add_typer(users.app, name="user")
app.add_typer(keys.app, name="keys")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(audit.app, name="audit")
app.add_typer(dev.app, name="dev")
app.add_typer(providers.app, name="providers")
app.add_typer(grievances.app, name="grievances")
app.add_typer(admin.app, name="admin")


def main() -> None:
    app()
