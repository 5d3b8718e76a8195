"""Aadhaar offline KYC: per-org policy, masked per-user records, verified_claims on codes (issue 14)

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-02

``down_revision`` is 0004 while 0005-0008 are written in parallel; it is re-chained at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    name = op.f(f"fk_{table}_org_id_organizations")
    return sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=name)


def upgrade() -> None:
    op.create_table(
        "kyc_policies",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("max_age_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _org_fk("kyc_policies"),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_kyc_policies")),
    )
    op.create_table(
        "kyc_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("name_mac", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("signer_sha256", sa.String(length=64), nullable=False),
        sa.Column("generated_at", UTCDateTime(), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=False),
        _org_fk("kyc_records"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_kyc_records_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kyc_records")),
        sa.UniqueConstraint("org_id", "user_id", name=op.f("uq_kyc_records_org_id_user_id")),
    )
    with op.batch_alter_table("kyc_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kyc_records_org_id"), ["org_id"], unique=False)
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_claims", JSON, nullable=True))
    if policy.is_postgres():
        policy.isolate_tenant_table("kyc_policies")
        policy.grant("kyc_policies", "SELECT, INSERT, UPDATE")
        policy.isolate_tenant_table("kyc_records")
        policy.grant("kyc_records", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_column("verified_claims")
    op.drop_table("kyc_records")
    op.drop_table("kyc_policies")
