"""``namoid audit seal|verify|export|checkpoint|prune|set-retention``: the tamper-evident log."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer

from namoid.audit import retention, sealing
from namoid.audit.export import export_lines
from namoid.audit.verification import Verdict, verify_chain, verify_checkpoint, verify_file
from namoid.cli.runtime import cli_actor, emit, fail, run
from namoid.services import Services
from namoid.storage.repos.audit_chain import AuditFilter
from namoid.tenancy import organizations

app = typer.Typer(help="The audit log: seal, verify, export, retention.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
OrgOpt = Annotated[str, typer.Option("--org", help="Organization slug.")]
#: ``verify`` found the chain broken (bad input stays exit 2).
EXIT_BROKEN = 1


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be an ISO 8601 date or time, e.g. 2026-11-30T00:00:00Z")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _report(verdicts: list[Verdict], as_json: bool) -> None:
    rows = [
        {
            "chain": v.chain,
            "intact": v.intact,
            "checked": v.checked,
            "head_position": v.head_position,
            "head": v.head,
            "unsealed": v.unsealed,
            "checkpoints": v.checkpoints,
            "problem": None
            if v.problem is None
            else {
                "kind": v.problem.kind,
                "position": v.problem.position,
                "seq": v.problem.seq,
                "message": v.problem.message,
            },
        }
        for v in verdicts
    ]
    lines = [
        f"{v.chain}: intact, {v.checked} entries, head {v.head[:16]}… at {v.head_position}"
        f"{f', {v.unsealed} not sealed yet' if v.unsealed else ''}"
        if v.problem is None
        else f"{v.chain}: BROKEN at position {v.problem.position}: {v.problem.message}"
        for v in verdicts
    ]
    emit(as_json, rows, "\n".join(lines) or "no chains")
    if not all(v.intact for v in verdicts):
        raise typer.Exit(EXIT_BROKEN)


@app.command("seal")
def seal(as_json: JsonFlag = False) -> None:
    """Run one sealing pass over every chain (the worker does this continuously)."""

    async def action(services: Services) -> None:
        report = await sealing.seal_all(services)
        emit(
            as_json,
            {"sealed": report.sealed, "checkpoints": report.checkpoints, "chains": report.chains},
            f"sealed {report.sealed} entries; {report.checkpoints} checkpoints signed",
        )

    run(action)


@app.command("verify")
def verify(
    org: Annotated[str | None, typer.Option("--org", help="Only this organization's chain.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Verify an export file offline.")] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A signed checkpoint kept elsewhere (needs --org).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Recompute chains; exit 0 when intact, 1 naming the first altered, missing or reordered entry."""
    if file is not None:
        if org is not None or checkpoint is not None:
            fail("--file verifies an export on its own; leave out --org and --checkpoint")
        try:
            verdict = verify_file(file)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail(f"cannot read export {file}: {exc}")
        _report([verdict], as_json)
        return
    if checkpoint is not None and org is None:
        fail("--checkpoint needs --org")

    async def action(services: Services) -> list[Verdict]:
        if org is None:
            targets = list(await organizations.list_all(services.db))
            return [await verify_chain(services.db, None)] + [
                await verify_chain(services.db, o.id) for o in targets
            ]
        organization = await organizations.require(services.db, org)
        verdict = await verify_chain(services.db, organization.id)
        if checkpoint is not None and verdict.intact:
            verdict = await verify_checkpoint(services, organization, checkpoint.read_text().strip(), verdict)
        return [verdict]

    _report(run(action), as_json)


@app.command("export")
def export(
    org: OrgOpt,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")] = None,
    actor: Annotated[str | None, typer.Option(help="Actor as TYPE or TYPE:ID, e.g. client:web-app.")] = None,
    action_name: Annotated[
        str | None, typer.Option("--action", help="Only this action, e.g. token.issued.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="File to write (default: standard output).")
    ] = None,
) -> None:
    """Write an org's log as JSON Lines with each entry's seal (verify it with --file)."""
    actor_type, _, actor_id = (actor or "").partition(":")
    if actor is not None and actor_type not in ("user", "client", "admin", "system"):
        fail("--actor must be user, client, admin or system, optionally :ID")
    wanted = AuditFilter(
        since=_moment(since, "--since"),
        until=_moment(until, "--until"),
        actor_type=actor_type or None,
        actor_id=actor_id or None,
        action=action_name,
    )

    async def write(services: Services, sink: TextIO) -> None:
        organization = await organizations.require(services.db, org)
        async for line in export_lines(services.db, organization.id, wanted):
            sink.write(line)

    async def action(services: Services) -> None:
        if output is None:
            await write(services, sys.stdout)
            return
        with output.open("w", encoding="utf-8") as sink:
            await write(services, sink)

    run(action)


@app.command("checkpoint")
def checkpoint(org: OrgOpt, as_json: JsonFlag = False) -> None:
    """Sign the org chain's head now and print the checkpoint (a JWS) to keep elsewhere."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        await sealing.seal_chain(services.db, organization.id)
        await sealing.checkpoint(services, organization, force=True)
        signed = await sealing.latest_checkpoint(services.db, organization.id)
        if signed is None:
            fail("the organization's audit chain is empty")
        emit(as_json, {"checkpoint": signed}, signed)

    run(action)


@app.command("prune")
def prune(as_json: JsonFlag = False) -> None:
    """Remove sealed entries older than each org's retention (needs the schema owner's URL)."""

    async def action(services: Services) -> None:
        results = await retention.prune_all(services.settings, services.db)
        emit(
            as_json,
            [{"org": p.org, "up_to_seq": p.up_to_seq, "removed": p.removed} for p in results],
            "\n".join(f"{p.org}: removed {p.removed} entries up to seq {p.up_to_seq}" for p in results)
            or "nothing to remove",
        )

    run(action)


@app.command("set-retention")
def set_retention(
    org: OrgOpt,
    days: Annotated[int, typer.Option(help=f"{retention.MIN_DAYS}-{retention.MAX_DAYS} days.")],
    as_json: JsonFlag = False,
) -> None:
    """Set how long an org's audit entries are kept."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        await retention.set_retention(services.db, organization, days, cli_actor())
        services.orgs.invalidate(organization.slug)
        emit(
            as_json,
            {"org": organization.slug, "days": days},
            f"{organization.slug}: audit retention {days} days",
        )

    run(action)
