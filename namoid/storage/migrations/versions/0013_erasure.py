"""Erasure: the org's grace period, a deleted account's purge time, and tombstones (issue 13)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Chained after 0012 (data exports, merged into this branch); 0011 is written in parallel, so the
chain is set again at merge.
Tombstones are append-only (like the audit log): the app role may read and add them only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erasure_grace_days", sa.Integer(), nullable=False, server_default="30")
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purge_at", UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_purge_at"), ["purge_at"], unique=False)
    op.create_table(
        "tombstones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("subject_mac", sa.String(length=64), nullable=False),
        sa.Column("email_mac", sa.String(length=64), nullable=False),
        sa.Column("phone_mac", sa.String(length=64), nullable=True),
        sa.Column("account_created_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=False),
        sa.Column("purged_at", UTCDateTime(), nullable=False),
        sa.Column("legal_basis", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_tombstones_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tombstones")),
        sa.UniqueConstraint("org_id", "subject_mac", name=op.f("uq_tombstones_org_id_subject_mac")),
    )
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tombstones_org_id"), ["org_id"], unique=False)
    policy.make_append_only("tombstones")
    if policy.is_postgres():
        policy.isolate_tenant_table("tombstones")
        policy.grant("tombstones", "SELECT, INSERT")


def downgrade() -> None:
    policy.drop_append_only("tombstones")
    op.drop_table("tombstones")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_purge_at"))
        batch_op.drop_column("purge_at")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("erasure_grace_days")
