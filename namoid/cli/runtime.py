"""Shared CLI plumbing: settings, services, output and the one error-to-exit-code policy."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import typer

from namoid import audit, datadir
from namoid.crypto.keyring import KeyringError
from namoid.logs import configure_logging
from namoid.services import Services, build_services
from namoid.settings import Settings, SettingsError, load_settings
from namoid.storage.db import Database
from namoid.storage.migrate import current_revision, upgrade

T = TypeVar("T")
#: Bad input and refusals exit 2 (like a usage error); nothing is half-written.
EXIT_BAD_INPUT = 2


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def settings() -> Settings:
    """The settings, with logging configured from them (every line through the redaction filter)
    and, in dev mode, the data directory made private (namoid.datadir)."""
    try:
        config = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    configure_logging(config.log_level, json_format=config.json_logs)
    if config.is_dev:
        try:
            datadir.prepare(config.data_dir, embedded_database=config.database_url is None)
        except OSError as exc:
            fail(f"cannot prepare the data directory {config.data_dir}: {exc.strerror or exc}")
    return config


def cli_actor() -> audit.Actor:
    return audit.Actor("admin", f"cli:{getpass.getuser()}")


async def migrate_database(url: str, app_role: str, actor: audit.Actor) -> None:
    """Upgrade the schema to the newest revision; a change of revision is audited."""
    db = Database(url)
    try:
        before = await current_revision(db)
        await upgrade(url, app_role)
        after = await current_revision(db)
        if before != after:
            async with db.system() as session:
                await audit.record(
                    session,
                    None,
                    actor=actor,
                    action="schema.migrated",
                    target_type="schema",
                    target_id=after,
                    detail={"from_revision": before, "to_revision": after},
                )
    finally:
        await db.dispose()


def run(action: Callable[[Services], Awaitable[T]]) -> T:
    """Build the services, migrate an embedded database, run ``action``, map errors to exit 2."""

    async def main() -> T:
        config = settings()
        services = build_services(config)
        try:
            if config.is_dev:
                await migrate_database(config.resolved_database_url, config.database_app_role, cli_actor())
            return await action(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except (ValueError, LookupError, KeyringError) as exc:
        fail(str(exc))


def emit(as_json: bool, data: Any, human: str) -> None:
    typer.echo(json.dumps(data, indent=None, sort_keys=True, default=str) if as_json else human)


def read_password_stdin() -> str:
    """The password from standard input (never argv): one line, trailing newline removed."""
    if sys.stdin is None or sys.stdin.isatty():
        fail("--password-stdin expects the password on standard input, e.g. from a pipe")
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        fail("no password on standard input")
    return value
