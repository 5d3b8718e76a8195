"""``namoid user create|list|set-password|disable|enable|delete|export|revoke-sessions|grant-role``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from namoid.accounts import roles, users
from namoid.cli.runtime import cli_actor, emit, read_password_stdin, run
from namoid.privacy import erasure, export_jobs
from namoid.services import Services
from namoid.storage.models import User
from namoid.tenancy import organizations

app = typer.Typer(help="Users of an organization.", no_args_is_help=True)
OrgOpt = Annotated[str, typer.Option("--org", help="Organization slug.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
EmailOpt = Annotated[str, typer.Option("--email")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (up to 200 characters; audited).")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input (never argv).")
]


@app.command("create")
def create(
    org: OrgOpt,
    email: Annotated[str, typer.Option()],
    phone: Annotated[str | None, typer.Option(help="E.164, e.g. +919812345678.")] = None,
    phone_verified: Annotated[
        bool,
        typer.Option(
            "--phone-verified",
            help="You vouch that the number is the user's (checked elsewhere). Without it the phone "
            "gets no sign-in codes until a code has verified it.",
        ),
    ] = False,
    name: Annotated[str | None, typer.Option()] = None,
    password_stdin: PasswordStdin = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a user; with --password-stdin the password is read from standard input."""
    password = read_password_stdin() if password_stdin else None

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        user = await users.create(
            services.db,
            organization.id,
            email=email,
            password=password,
            phone=phone,
            name=name,
            actor=cli_actor(),
            phone_verified=phone_verified,
        )
        emit(as_json, {"id": str(user.id), "email": user.email}, f"created user {user.email} ({user.id})")

    run(action)


@app.command("list")
def list_(org: OrgOpt, as_json: JsonFlag = False) -> None:
    """List an organization's users."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        rows = [
            {
                "id": str(u.id),
                "email": u.email,
                "name": u.name,
                "phone": u.phone,
                "status": u.status,
                "email_verified": u.email_verified,
            }
            for u in await users.list_active(services.db, organization.id)
        ]
        emit(as_json, rows, "\n".join(f"{r['email']}\t{r['status']}\t{r['id']}" for r in rows) or "no users")

    run(action)


@app.command("set-password")
def set_password(
    org: OrgOpt,
    email: Annotated[str, typer.Option()],
    password_stdin: PasswordStdin = False,
    as_json: JsonFlag = False,
) -> None:
    """Set a user's password, read from standard input."""
    if not password_stdin:
        raise typer.BadParameter(
            "pass --password-stdin and pipe the password in", param_hint="--password-stdin"
        )
    password = read_password_stdin()

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        user = await users.set_password(services.db, organization.id, email, password, cli_actor())
        emit(as_json, {"id": str(user.id), "email": user.email}, f"password set for {user.email}")

    run(action)


def _status(user: User) -> dict[str, str]:
    return {"id": str(user.id), "email": user.email, "status": user.status}


@app.command("disable")
def disable(org: OrgOpt, email: EmailOpt, reason: ReasonOpt = None, as_json: JsonFlag = False) -> None:
    """Disable a user: no more sign-ins; their sessions and tokens end now."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        user = await users.disable(services.db, organization.id, email, cli_actor(), reason)
        emit(as_json, _status(user), f"disabled {user.email}; their sessions and tokens are revoked")

    run(action)


@app.command("enable")
def enable(org: OrgOpt, email: EmailOpt, as_json: JsonFlag = False) -> None:
    """Enable a disabled user again (revoked sessions and tokens stay revoked)."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        user = await users.enable(services.db, organization.id, email, cli_actor())
        emit(as_json, _status(user), f"enabled {user.email}")

    run(action)


@app.command("delete")
def delete(org: OrgOpt, email: EmailOpt, reason: ReasonOpt = None, as_json: JsonFlag = False) -> None:
    """Delete a user: sign-in, sessions, tokens and provider connections end now; the worker
    purges the account after the organization's erasure grace period, leaving a tombstone."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        deleted = await erasure.delete_account(services, organization.id, email, cli_actor(), reason)
        user, purge_at = deleted.user, deleted.purge_at.isoformat()
        emit(
            as_json,
            _status(user) | {"purge_at": purge_at, "providers_disconnected": deleted.providers_disconnected},
            f"deleted {user.email}; their sessions, tokens and provider connections are revoked; "
            f"purged after {purge_at}",
        )

    run(action)


@app.command("export")
def export(
    org: OrgOpt,
    email: EmailOpt,
    out: Annotated[Path, typer.Option("--out", help="File to create (never overwritten), mode 0600.")],
    as_json: JsonFlag = False,
) -> None:
    """Write everything NamoID stores about a user to a new file: the data export (JSON; audited)."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        user = await users.get(services.db, organization.id, email)
        if out.exists():
            raise ValueError(f"{out} exists; choose a new file")
        body = await export_jobs.export_now(services.db, organization.id, user.id, cli_actor())
        with os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(body)
        emit(as_json, {"id": str(user.id), "file": str(out)}, f"wrote {user.email}'s data export to {out}")

    run(action)


@app.command("revoke-sessions")
def revoke_sessions(org: OrgOpt, email: EmailOpt, as_json: JsonFlag = False) -> None:
    """End every session, grant and token of a user (the account stays as it is)."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        user = await users.revoke_sessions(services.db, organization.id, email, cli_actor())
        emit(as_json, _status(user), f"ended every session and token of {user.email}")

    run(action)


@app.command("grant-role")
def grant_role(
    org: OrgOpt,
    email: EmailOpt,
    role: Annotated[str, typer.Option(help="org_admin (every admin scope) or auditor (read only).")],
    as_json: JsonFlag = False,
) -> None:
    """Give a user an administrative role in their organization (for the admin console)."""

    async def action(services: Services) -> None:
        organization = await organizations.require(services.db, org)
        user = await roles.grant(services.db, organization.id, email, role, cli_actor())
        emit(as_json, _status(user) | {"role": role}, f"{user.email} is now {role} of {org}")

    run(action)
