"""``namoid serve`` (HTTPS only: the public app and the admin API) and ``namoid migrate``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import anyio
import typer

from namoid import audit
from namoid.cli.runtime import cli_actor, fail, migrate_database, settings
from namoid.crypto.keyring import Keyring, KeyringError
from namoid.notify.dev import startup_notice
from namoid.preflight import StartupRefused, check_production
from namoid.services import Services, build_services, connect_redis
from namoid.settings import Settings
from namoid.storage.db import Database
from namoid.tenancy import demo

log = logging.getLogger("namoid.serve")

DEV_BANNER = """
==============================================================================
 NamoID is running in DEVELOPMENT mode: SQLite, in-memory rate limits, a dev
 keyring and a self-signed dev certificate under %s.
 None of this is fit for production. Trust the dev certificate with:
     %s
==============================================================================
"""

NO_SHARED_LIMITS = (
    "production mode needs NAMOID_REDIS_URL: rate limits must be shared by every node "
    "(DESIGN.md §5b); set NAMOID_RATELIMIT_SINGLE_NODE=1 only if exactly one node serves"
)
SINGLE_NODE_BANNER = (
    "RATE LIMITS ARE NOT SHARED: NAMOID_RATELIMIT_SINGLE_NODE=1 and no NAMOID_REDIS_URL, so this "
    "node counts rate limits in its own memory. Correct for one node only: every further node "
    "multiplies what an attacker may try, and a restart forgets every lockout."
)


def require_shared_limits(config: Settings) -> None:
    """Production rate limits live in Redis (DESIGN.md §5b), or the operator says there is one node."""
    if config.is_dev or config.redis_url:
        return
    if not config.ratelimit_single_node:
        fail(NO_SHARED_LIMITS)
    log.warning(SINGLE_NODE_BANNER)


def refuse_unusable_services(config: Settings, keyring: Keyring) -> None:
    """The production checks of namoid.preflight, on connections of their own (uvicorn's event
    loop must not inherit this one's)."""

    async def check() -> None:
        db, redis = Database(config.resolved_database_url), connect_redis(config)
        try:
            await check_production(db, keyring, redis)
        finally:
            await db.dispose()
            if redis is not None:
                await redis.aclose()

    try:
        anyio.run(check)
    except StartupRefused as exc:
        fail(f"refusing to start: {exc}")


def serve() -> None:
    """Serve the public app on NAMOID_BASE_URL's port and the admin API on NAMOID_ADMIN_BASE_URL's,
    both over HTTPS with the same certificate (migrating an embedded DB first)."""
    # The web stack is imported only by the command that serves it: the other commands start faster.
    from namoid.crypto.tls import check_pair, ensure_dev_certificate

    config = settings()
    if not (config.serve_public or config.serve_admin):
        fail("nothing to serve: NAMOID_SERVE_PUBLIC and NAMOID_SERVE_ADMIN are both off")
    if config.is_dev:
        anyio.run(
            migrate_database,
            config.resolved_database_url,
            config.database_app_role,
            audit.Actor("system", "serve"),
        )
    if config.tls_cert_file and config.tls_key_file:
        cert, key = config.tls_cert_file, config.tls_key_file
    elif config.is_dev:
        cert, key = ensure_dev_certificate(config.data_dir / "tls")
        log.warning(DEV_BANNER, config.data_dir.resolve(), cert.resolve())
    else:
        fail("production mode needs NAMOID_TLS_CERT_FILE and NAMOID_TLS_KEY_FILE (HTTPS only)")
    require_shared_limits(config)
    if not config.is_dev and (problem := check_pair(cert, key)):
        fail(f"refusing to start: NAMOID_TLS_KEY_FILE: {problem}")
    try:
        if config.is_dev and config.serve_public:
            typer.echo(demo.console_message(anyio.run(demo.bootstrap, config), config.base_url))
        services = build_services(config)
    except KeyringError as exc:
        fail(f"refusing to start: {exc}")
    if not config.is_dev:
        refuse_unusable_services(config, services.keyring)
    if notice := startup_notice(config):
        log.warning("%s", notice)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the signal it stopped for
        asyncio.run(_serve_apps(services, cert, key))


async def _serve_apps(services: Services, cert: Path, key: Path) -> None:
    """One uvicorn server per enabled app on this event loop (they share the services); when
    one stops (a signal, a failed bind), the other stops too."""
    import uvicorn

    from namoid.admin.app import create_admin_app
    from namoid.app import create_public_app
    from namoid.logs import uvicorn_log_config

    config = services.settings
    apps = []
    if config.serve_public:
        log.info("NamoID listening on %s (bind %s:%d)", config.base_url, config.bind_host, config.port)
        apps.append((create_public_app(services), config.bind_host, config.port))
    if config.serve_admin:
        log.info(
            "NamoID admin API on %s (bind %s:%d)",
            config.admin_resource,
            config.admin_bind_host,
            config.admin_port,
        )
        apps.append((create_admin_app(services), config.admin_bind_host, config.admin_port))
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                ssl_certfile=str(cert),
                ssl_keyfile=str(key),
                log_config=uvicorn_log_config(),
                server_header=False,
                proxy_headers=False,
                forwarded_allow_ips="",
            )
        )
        for app, host, port in apps
    ]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks)


def migrate() -> None:
    """Upgrade the database schema to the newest revision (uses NAMOID_MIGRATION_DATABASE_URL if set)."""
    config = settings()
    url = config.migration_database_url or config.resolved_database_url
    anyio.run(migrate_database, url, config.database_app_role, cli_actor())
    typer.echo("database is at the newest revision")
