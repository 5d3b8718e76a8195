"""``namoid serve`` (HTTPS only: the public app and the admin API) and ``namoid migrate``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import anyio
import typer

from namoid import audit
from namoid.cli import supervisor
from namoid.cli.runtime import cli_actor, fail, migrate_database, settings
from namoid.crypto.keyring import Keyring, KeyringError
from namoid.notify.dev import startup_notice
from namoid.preflight import StartupRefused, check_production
from namoid.services import Services, connect_redis, load_keyring
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


NO_SHARED_WORKER_LIMITS = (
    "%d workers need NAMOID_REDIS_URL: each worker process would count rate limits in its own "
    "memory, multiplying every limit by the number of workers (DESIGN.md §5b); set NAMOID_REDIS_URL "
    "or serve with NAMOID_WORKERS=1"
)


def require_shared_worker_limits(config: Settings) -> None:
    """Several worker processes count rate limits in Redis (DESIGN.md §5b), in any mode: the
    in-process limiter would be one per worker."""
    if config.workers > 1 and not config.redis_url:
        fail(NO_SHARED_WORKER_LIMITS % config.workers)


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


WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        max=64,
        help="Processes sharing the ports (default NAMOID_WORKERS, 1); needs Redis if > 1.",
    ),
]


def serve(workers: WorkersOption = None) -> None:
    """Serve the public app on NAMOID_BASE_URL's port and the admin API on NAMOID_ADMIN_BASE_URL's,
    both over HTTPS with the same certificate (migrating an embedded DB first), in one process
    or in ``--workers`` processes sharing both ports."""
    config = settings()
    if workers is not None:
        config = config.replace(workers=workers)
    require_shared_worker_limits(config)
    if not (config.serve_public or config.serve_admin):
        fail("nothing to serve: NAMOID_SERVE_PUBLIC and NAMOID_SERVE_ADMIN are both off")
    if config.is_dev:
        anyio.run(
            migrate_database,
            config.resolved_database_url,
            config.database_app_role,
            audit.Actor("system", "serve"),
        )
    cert, key = _certificate(config)
    require_shared_limits(config)
    try:
        if config.is_dev and config.serve_public:
            typer.echo(demo.console_message(anyio.run(demo.bootstrap, config), config.base_url))
        keyring = load_keyring(config)
    except KeyringError as exc:
        fail(f"refusing to start: {exc}")
    if not config.is_dev:
        refuse_unusable_services(config, keyring)
    if notice := startup_notice(config):
        log.warning("%s", notice)
    if config.workers == 1:
        _serve(config, keyring, cert, key, listeners=None)
    else:
        _serve_workers(config, keyring, cert, key)


def _certificate(config: Settings) -> tuple[Path, Path]:
    """The TLS certificate and key files: configured (checked in production), or the dev pair."""
    # The web stack is imported only by the command that serves it: the other commands start faster.
    from namoid.crypto.tls import check_pair, ensure_dev_certificate

    if config.tls_cert_file and config.tls_key_file:
        cert, key = config.tls_cert_file, config.tls_key_file
    elif config.is_dev:
        cert, key = ensure_dev_certificate(config.data_dir / "tls")
        log.warning(DEV_BANNER, config.data_dir.resolve(), cert.resolve())
    else:
        fail("production mode needs NAMOID_TLS_CERT_FILE and NAMOID_TLS_KEY_FILE (HTTPS only)")
    if not config.is_dev and (problem := check_pair(cert, key)):
        fail(f"refusing to start: NAMOID_TLS_KEY_FILE: {problem}")
    return cert, key


def _serve(config: Settings, keyring: Keyring, cert: Path, key: Path, listeners: Listeners | None) -> int:
    """Serve until a signal; the exit code of a worker (EXIT_STARTUP_FAILED if a server did not start)."""
    services = Services(
        settings=config,
        db=Database(config.resolved_database_url),
        keyring=keyring,
        redis=connect_redis(config),
    )
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the signal it stopped for
        return asyncio.run(_serve_apps(services, cert, key, listeners))
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, shared by every worker (bound before they are forked)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def _serve_workers(config: Settings, keyring: Keyring, cert: Path, key: Path) -> None:
    """``config.workers`` processes sharing the listening sockets (namoid.cli.supervisor). Only
    worker 0 runs the embedded background jobs; each worker keeps its Prometheus metrics in one
    private directory that /metrics aggregates, removed at exit."""
    listeners = Listeners(
        _listen(config.bind_host, config.port) if config.serve_public else None,
        _listen(config.admin_bind_host, config.admin_port) if config.serve_admin else None,
    )
    metrics = Path(tempfile.mkdtemp(prefix="namoid-metrics-"))  # mode 0700
    # prometheus_client picks its multiprocess mode when first imported: set before any import of it.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    log.info("worker metrics kept in %s (PROMETHEUS_MULTIPROC_DIR)", metrics)
    from prometheus_client import multiprocess

    # Imported once here, the web stack is shared by every worker (copy-on-write): each one and
    # each replacement starts faster.
    import namoid.admin.app
    import namoid.app  # noqa: F401

    jobs = config.runs_worker_in_server

    def work(index: int) -> int:
        own = config.replace(worker_in_server=jobs and index == 0, metrics_multiproc_dir=metrics)
        return _serve(own, keyring, cert, key, listeners)

    try:
        supervisor.Supervisor(
            config.workers,
            work,
            on_exit=lambda pid: multiprocess.mark_process_dead(pid, str(metrics)),  # type: ignore[no-untyped-call]
        ).run()
    except supervisor.WorkerFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        shutil.rmtree(metrics, ignore_errors=True)


@dataclass(frozen=True)
class Listeners:
    """The sockets the workers of ``--workers N`` accept on (None: that app is not served)."""

    public: socket.socket | None
    admin: socket.socket | None


async def _serve_apps(services: Services, cert: Path, key: Path, listeners: Listeners | None) -> int:
    """One uvicorn server per enabled app on this event loop (they share the services); when
    one stops (a signal, a failed bind), the other stops too. With ``listeners``, each server
    accepts on its already bound socket."""
    import uvicorn

    from namoid.admin.app import create_admin_app
    from namoid.app import create_public_app
    from namoid.logs import uvicorn_log_config

    config = services.settings
    apps = []
    if config.serve_public:
        log.info("NamoID listening on %s (bind %s:%d)", config.base_url, config.bind_host, config.port)
        apps.append(
            (create_public_app(services), config.bind_host, config.port, listeners and listeners.public)
        )
    if config.serve_admin:
        log.info(
            "NamoID admin API on %s (bind %s:%d)",
            config.admin_resource,
            config.admin_bind_host,
            config.admin_port,
        )
        apps.append(
            (
                create_admin_app(services),
                config.admin_bind_host,
                config.admin_port,
                listeners and listeners.admin,
            )
        )
    servers = [
        (
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
            ),
            sock,
        )
        for app, host, port, sock in apps
    ]
    tasks = [asyncio.create_task(server.serve([sock] if sock else None)) for server, sock in servers]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server, _sock in servers:
        server.should_exit = True
    await asyncio.gather(*tasks)
    return 0 if all(server.started for server, _sock in servers) else supervisor.EXIT_STARTUP_FAILED


def migrate() -> None:
    """Upgrade the database schema to the newest revision (uses NAMOID_MIGRATION_DATABASE_URL if set)."""
    config = settings()
    url = config.migration_database_url or config.resolved_database_url
    anyio.run(migrate_database, url, config.database_app_role, cli_actor())
    typer.echo("database is at the newest revision")
