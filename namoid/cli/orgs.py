"""``namoid org ...``: create, list, lifetimes, KYC, rate limits, sign-in policy, privacy notice, inbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from namoid.cli.runtime import cli_actor, emit, fail, run
from namoid.kyc import service as kyc
from namoid.notify import overrides
from namoid.notify.outbox import inbox_rows
from namoid.privacy import erasure, grievances, notices
from namoid.ratelimit import overrides as rate_overrides
from namoid.services import Services
from namoid.tenancy import organizations, sign_in

app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("create")
def create(
    slug: Annotated[str, typer.Argument(help="URL name: the issuer is {base}/o/SLUG.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the slug).")] = None,
    test_mode: Annotated[
        bool, typer.Option("--test-mode", help="Never send email or SMS: messages go to `org inbox`.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create an organization with its first signing key."""

    async def action(services: Services) -> None:
        org = await organizations.create(
            services.db, services.keyring, slug, name, cli_actor(), test_mode=test_mode
        )
        issuer = f"{services.settings.base_url}/o/{org.slug}"
        mode = " (test mode: messages stay in `namoid org inbox`)" if test_mode else ""
        emit(
            as_json,
            {"id": str(org.id), "slug": org.slug, "name": org.name, "issuer": issuer, "test_mode": test_mode},
            f"created organization {org.slug} ({org.name}); issuer {issuer}{mode}",
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


@app.command("set-limit")
def set_limit(
    slug: Annotated[str, typer.Argument(help="Organization slug.")],
    policy: Annotated[str, typer.Option(help="A rate-limit policy, e.g. token.client.")],
    rate: Annotated[
        str | None, typer.Option(help="e.g. 1200/minute; leave out to go back to the default.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set an organization's own limit for one rate-limit policy (the operator may also raise it;
    the org's admins may only tighten it). Running servers see it within a minute."""

    async def action(services: Services) -> None:
        org = await organizations.require(services.db, slug)
        stored = await rate_overrides.set_limit(
            services.db, org, policy, rate, cli_actor(), bounded=False
        )
        emit(as_json, stored, "\n".join(f"{name}\t{value}" for name, value in stored.items()) or "defaults")

    run(action)


@app.command("set-sign-in")
def set_sign_in(
    slug: Annotated[str, typer.Argument(help="Organization slug.")],
    method: Annotated[
        list[str] | None, typer.Option("--method", help="password, email_otp or sms_otp (repeat).")
    ] = None,
    registration: Annotated[str | None, typer.Option(help="Self-service sign-up: closed or open.")] = None,
    mfa: Annotated[
        str | None, typer.Option(help="Code after the password: off, optional or required.")
    ] = None,
    sms_country: Annotated[
        list[str] | None, typer.Option("--sms-country", help="Calling code SMS may go to, e.g. +91 (repeat).")
    ] = None,
    code_length: Annotated[
        int | None, typer.Option(help="Digits of a one-time code: 6 (default), 7 or 8.")
    ] = None,
    email_from: Annotated[
        str | None,
        typer.Option(help="From address of the org's email (SES: a verified identity); 'default' to reset."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set an organization's sign-in methods, sign-up, MFA, SMS countries, code length and email From."""
    policy = sign_in.SignInPolicy(
        methods=tuple(method) if method else None,
        registration=registration,
        mfa=mfa,
        sms_countries=tuple(sms_country) if sms_country else None,
        code_length=code_length,
        email_from=email_from,
    )

    async def action(services: Services) -> None:
        org = await sign_in.set_policy(services.db, slug, policy, cli_actor())
        current = sign_in.describe(org)
        emit(as_json, current, "\n".join(f"{name}\t{value}" for name, value in current.items()))

    run(action)


@app.command("set-notice")
def set_notice(
    slug: Annotated[str, typer.Argument(help="Organization slug.")],
    file: Annotated[Path, typer.Option("--file", help="The notice text (Markdown or plain UTF-8).")],
    lang: Annotated[str, typer.Option("--lang", help="Its language: en or hi.")] = "en",
    as_json: JsonFlag = False,
) -> None:
    """Publish a new version of the privacy notice shown with consent; users are asked again."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")

    async def action(services: Services) -> None:
        org = await organizations.require(services.db, slug)
        notice = await notices.publish(services.db, org.id, lang, raw, cli_actor())
        current = {"language": notice.language, "version": notice.version, "sha256": notice.sha256}
        emit(as_json, current, "\n".join(f"{name}\t{value}" for name, value in current.items()))

    run(action)


@app.command("set-erasure-grace")
def set_erasure_grace(
    slug: Annotated[str, typer.Argument(help="Organization slug.")],
    days: Annotated[int, typer.Option(help="Days from deleting an account to purging it (0-365).")],
    as_json: JsonFlag = False,
) -> None:
    """Set how long a deleted account waits before the worker purges it (default 30 days)."""

    async def action(services: Services) -> None:
        org = await erasure.set_grace(services.db, slug, days, cli_actor())
        emit(as_json, {"slug": org.slug, "erasure_grace_days": org.erasure_grace_days},
             f"erasure grace of {org.slug}: {org.erasure_grace_days} days")  # fmt: skip

    run(action)


@app.command("set-grievance")
def set_grievance(
    slug: Annotated[str, typer.Argument(help="Organization slug.")],
    response_days: Annotated[
        int | None, typer.Option(help="Published response period in days, 1-90 (default 30).")
    ] = None,
    contact_name: Annotated[str | None, typer.Option(help="The DPO or contact person.")] = None,
    contact_email: Annotated[str | None, typer.Option(help="Their email address.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Publish an organization's grievance response period and DPO or contact person."""
    policy = grievances.GrievancePolicy(response_days, contact_name, contact_email)

    async def action(services: Services) -> None:
        org = await grievances.set_policy(services.db, slug, policy, cli_actor())
        current = grievances.published(org)
        emit(as_json, current, "\n".join(f"{name}\t{value}" for name, value in current.items()))

    run(action)


@app.command("set-template")
def set_template(
    slug: Annotated[str, typer.Argument(help="Organization slug.")],
    template: Annotated[str, typer.Option(help="code_email or code_sms.")],
    lang: Annotated[str, typer.Option(help="en or hi.")],
    part: Annotated[str, typer.Option(help="code_email: subject, text or html; code_sms: text.")] = "text",
    file: Annotated[
        Path | None, typer.Option(help="The Jinja2 template; variables: code, org, purpose, minutes.")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Go back to NamoID's own wording.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Word an organization's code messages its own way (rendered in Jinja2's sandbox)."""
    if (file is None) == (not reset):
        fail("give exactly one of --file or --reset")
    body = None if reset or file is None else _read_template(file)

    async def action(services: Services) -> None:
        org = await organizations.require(services.db, slug)
        await overrides.set_override(services.db, org, template, lang, part, body, cli_actor())
        change = {"template": template, "lang": lang, "part": part, "override": body is not None}
        emit(as_json, change, f"{template} {lang} {part}: {'set' if body is not None else 'reset'}")

    run(action)


def _read_template(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")[: overrides.MAX_FILE + 1]
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")


@app.command("inbox")
def inbox(slug: Annotated[str, typer.Argument(help="Organization slug.")], as_json: JsonFlag = False) -> None:
    """Show a test-mode organization's captured emails and SMS, newest first (read-only)."""

    async def action(services: Services) -> None:
        org = await organizations.require(services.db, slug)
        rows = await inbox_rows(services.db, services.keyring, org.id)
        human = "\n\n".join(
            f"{row['captured_at']}  {row['kind']} to {row['to']}\n{row['text']}" for row in rows
        )
        emit(as_json, rows, human or f"no messages in the inbox of {slug}")

    run(action)
