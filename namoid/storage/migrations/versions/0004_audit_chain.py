"""Audit hash chain: seals, signed checkpoints, retention runs; per-org audit retention

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

The audit log stays append-only, with one exception: a DELETE of a row that a
recorded retention run covers (same org, ``seq <= up_to_seq``). On PostgreSQL the app
role has no DELETE privilege on the audit log at all, so only the owner's retention
job can remove rows, and only after recording the run.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLES = ("audit_seals", "audit_checkpoints", "audit_retention")
_MESSAGE = "audit_log is append-only"
_COVERED = (
    "EXISTS (SELECT 1 FROM audit_retention r "
    "WHERE r.org_id IS NOT DISTINCT FROM OLD.org_id AND r.up_to_seq >= OLD.seq)"
)


def _common(table: str) -> list[Any]:
    return [
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("chain", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _retention_aware_delete_trigger() -> None:
    if policy.is_postgres():
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP = 'DELETE' AND {_COVERED} THEN RETURN OLD; END IF; "
            f"RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    covered = _COVERED.replace("IS NOT DISTINCT FROM", "IS")
    op.execute(
        f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log WHEN NOT {covered} "
        f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
    )


def upgrade() -> None:
    op.create_table(
        "audit_seals",
        *_common("audit_seals"),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("chain", "position", name=op.f("uq_audit_seals_chain_position")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_seals_seq")),
    )
    op.create_table(
        "audit_checkpoints",
        *_common("audit_checkpoints"),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "audit_retention",
        *_common("audit_retention"),
        sa.Column("up_to_seq", sa.BigInteger(), nullable=False),
        sa.Column("before", UTCDateTime(), nullable=False),
        sa.Column("removed", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    for table in ("audit_checkpoints", "audit_retention"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_org_id"), ["org_id"], unique=False)
    op.create_index("ix_audit_log_org_id_seq", "audit_log", ["org_id", "seq"])
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audit_retention_days", sa.Integer(), nullable=False, server_default="400")
        )

    for table in TABLES:
        policy.make_append_only(table)
    _retention_aware_delete_trigger()
    if policy.is_postgres():
        for table in TABLES:
            policy.isolate_tenant_table(table, allow_system_rows=True)
        policy.grant("audit_seals", "SELECT, INSERT")
        policy.grant("audit_seals_id_seq", "USAGE")
        policy.grant("audit_checkpoints", "SELECT, INSERT")
        policy.grant("audit_checkpoints_id_seq", "USAGE")
        policy.grant("audit_retention", "SELECT")


def downgrade() -> None:
    if policy.is_postgres():
        policy.drop_append_only("audit_log")
        policy.make_append_only("audit_log")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )
    for table in TABLES:
        policy.drop_append_only(table)
    op.drop_index("ix_audit_log_org_id_seq", "audit_log")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("audit_retention_days")
    for table in reversed(TABLES):
        op.drop_table(table)
