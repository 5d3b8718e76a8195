"""Consent ledger for relying parties: itemised claims, notice hash, language, action; notices (issue 13)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

``consent_records`` gains columns and stays append-only (its triggers are per row, so they
cover the new columns). ``notices`` holds each org's versioned notice texts, append-only too.
``consents`` remembers the notice a consent was given under.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
LEDGER_COLUMNS = ("claims", "notice_hash", "language", "action")


def upgrade() -> None:
    op.add_column("consent_records", sa.Column("claims", JSON, nullable=True))
    op.add_column("consent_records", sa.Column("notice_hash", sa.String(length=64), nullable=True))
    op.add_column("consent_records", sa.Column("language", sa.String(length=8), nullable=True))
    op.add_column("consent_records", sa.Column("action", sa.String(length=32), nullable=True))
    op.add_column("consents", sa.Column("notice_language", sa.String(length=8), nullable=True))
    op.add_column("consents", sa.Column("notice_version", sa.String(length=32), nullable=True))
    op.create_table(
        "notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_notices_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("org_id", "language", "version", name=op.f("uq_notices_org_id_language_version")),
    )
    op.create_index(op.f("ix_notices_org_id"), "notices", ["org_id"])
    policy.make_append_only("notices")
    if policy.is_postgres():
        policy.isolate_tenant_table("notices")
        policy.grant("notices", "SELECT, INSERT")


def downgrade() -> None:
    policy.drop_append_only("notices")
    op.drop_table("notices")
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("notice_version")
        batch.drop_column("notice_language")
    # Dropping columns may rebuild the table on SQLite: the triggers are set up again after.
    policy.drop_append_only("consent_records")
    with op.batch_alter_table("consent_records") as batch:
        for column in reversed(LEDGER_COLUMNS):
            batch.drop_column(column)
    policy.make_append_only("consent_records")
