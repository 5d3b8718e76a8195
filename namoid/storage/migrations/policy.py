"""PostgreSQL isolation and append-only DDL shared by the migrations (DESIGN.md §2, §5).

Each tenant table gets row-level security keyed on the per-transaction setting
``namoid.org_id``; FORCE makes it apply to the table owner too. The app role
(``-x app_role=…``, default ``namoid_app``) is granted only what it needs:
on the audit log, SELECT and INSERT, never UPDATE, DELETE or TRUNCATE.
"""

from __future__ import annotations

import re

from alembic import context, op

_CURRENT_ORG = "nullif(current_setting('namoid.org_id', true), '')::uuid"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def app_role() -> str:
    """The app role named on the command line; an identifier, never free text."""
    role = context.get_x_argument(as_dictionary=True).get("app_role", "namoid_app")
    if not _IDENT.match(role):
        raise ValueError(f"invalid PostgreSQL role name {role!r}")
    return role


def ensure_app_role() -> None:
    role = app_role()
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
        f"'{role}') THEN CREATE ROLE {role} NOLOGIN NOBYPASSRLS; END IF; END $$"
    )


def isolate_tenant_table(table: str, *, allow_system_rows: bool = False) -> None:
    """Enable and force RLS: rows are visible only to a transaction of their org."""
    match = f"org_id IS NOT DISTINCT FROM {_CURRENT_ORG}" if allow_system_rows else f"org_id = {_CURRENT_ORG}"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({match}) WITH CHECK ({match})")


def grant(table: str, privileges: str) -> None:
    op.execute(f"GRANT {privileges} ON {table} TO {app_role()}")


def make_append_only(table: str) -> None:
    """Reject UPDATE and DELETE on ``table`` by trigger (both backends), and TRUNCATE on PostgreSQL."""
    message = f"{table} is append-only"
    if is_postgres():
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def drop_append_only(table: str) -> None:
    if is_postgres():
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
        return
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
