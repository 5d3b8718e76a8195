"""Run Alembic migrations programmatically (``namoid migrate``; the embedded server on start)."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import anyio
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from namoid.storage.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str, app_role: str = "namoid_app") -> Config:
    """An Alembic config for ``url``, passing ``-x app_role=…`` as the alembic CLI would."""
    config = Config(cmd_opts=Namespace(x=[f"app_role={app_role}"]))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_sync(url: str, app_role: str = "namoid_app", revision: str = "head") -> None:
    command.upgrade(alembic_config(url, app_role), revision)


def downgrade_sync(url: str, app_role: str = "namoid_app", revision: str = "base") -> None:
    command.downgrade(alembic_config(url, app_role), revision)


async def upgrade(url: str, app_role: str = "namoid_app") -> None:
    """Upgrade to head in a worker thread (env.py runs its own event loop)."""
    await anyio.to_thread.run_sync(upgrade_sync, url, app_role)


async def current_revision(db: Database) -> str | None:
    """The schema revision of ``db`` (None for an empty database)."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as connection:
        return await connection.run_sync(read)
