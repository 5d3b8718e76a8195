"""``namoid grievances list|respond``: an org's grievance tickets (issue 13 item 7)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from namoid.cli.runtime import cli_actor, emit, fail, run
from namoid.privacy import grievances
from namoid.services import Services
from namoid.storage.models import utcnow
from namoid.tenancy import organizations

app = typer.Typer(help="Grievances of data principals (DPDP Act s.8(10)).", no_args_is_help=True)
OrgOpt = Annotated[str, typer.Option("--org", help="Organization slug.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("list")
def list_(
    org: OrgOpt,
    status: Annotated[str | None, typer.Option(help="open, answered or rejected.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List an organization's tickets, the soonest due first (read-only)."""

    async def action(services: Services) -> None:
        found = await organizations.require(services.db, org)
        rows = await grievances.list_tickets(services.db, found.id, status)
        human = "\n".join(
            f"{r['id']}\t{r['status']}\tdue {r['due_at'][:10]}\t{r['category']}\t{r['subject']}" for r in rows
        )
        emit(as_json, rows, human or f"no grievances in {org}")

    run(action)


def _read_text_stdin() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        fail("--text-stdin expects the response on standard input, e.g. from a file or a pipe")
    return sys.stdin.read(grievances.MAX_TEXT + 1)


@app.command("respond")
def respond(
    org: OrgOpt,
    ticket: Annotated[str, typer.Option("--id", help="The ticket's id (from `grievances list`).")],
    text: Annotated[str | None, typer.Option(help="The response (or the reason for rejecting).")] = None,
    text_stdin: Annotated[bool, typer.Option("--text-stdin", help="Read the response from stdin.")] = False,
    reject: Annotated[
        bool, typer.Option("--reject", help="Reject the grievance; the text is the reason.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Answer or reject an open ticket; the user is told by email."""
    if (text is None) == (not text_stdin):
        fail("give the response with exactly one of --text or --text-stdin")
    response = _read_text_stdin() if text_stdin else text or ""

    async def action(services: Services) -> None:
        found = await organizations.require(services.db, org)
        closed = await grievances.respond(
            services.db,
            services.keyring,
            services.wakeup,
            found,
            grievances.ticket_id(ticket),
            text=response,
            reject=reject,
            actor=cli_actor(),
            now=utcnow(),
        )
        emit(
            as_json,
            grievances.describe(closed),
            f"grievance {closed.id} {closed.status}; the user is told by email",
        )

    run(action)
