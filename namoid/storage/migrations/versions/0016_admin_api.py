"""Admin API (issue 16): roles on users, admin scopes granted to clients, the platform org

Revision ID: 0016
Revises: 0010
Create Date: 2026-12-07

``down_revision`` is 0010 while other migrations are written in parallel; it is re-chained at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "user_roles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_user_roles_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_roles")),
        sa.UniqueConstraint("org_id", "user_id", "role", name=op.f("uq_user_roles_org_id_user_id_role")),
    )
    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_roles_org_id"), ["org_id"], unique=False)
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("admin_scopes", JSON, server_default="[]", nullable=False))
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform", sa.Boolean(), server_default=sa.false(), nullable=False))
    if policy.is_postgres():
        policy.isolate_tenant_table("user_roles")
        policy.grant("user_roles", "SELECT, INSERT, DELETE")


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("platform")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("admin_scopes")
    op.drop_table("user_roles")
