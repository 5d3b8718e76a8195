"""Data exports: one job per requested export, its encrypted document and single-use link (issue 13)

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07

``down_revision`` is 0010 while 0011-0013 are written in parallel; it is re-chained at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_exports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("active_user_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=16), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("produced_at", UTCDateTime(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("payload_enc", sa.Text(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("link_hash", sa.String(length=64), nullable=True),
        sa.Column("link_expires_at", UTCDateTime(), nullable=True),
        sa.Column("downloaded_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_data_exports_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_data_exports_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_exports")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_data_exports_link_hash")),
        sa.UniqueConstraint("org_id", "active_user_id", name=op.f("uq_data_exports_org_id_active_user_id")),
    )
    with op.batch_alter_table("data_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_exports_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_exports_user_id"), ["user_id"], unique=False)
    if policy.is_postgres():
        policy.isolate_tenant_table("data_exports")
        policy.grant("data_exports", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("data_exports")
