"""Grievances (issue 13 item 7); per-org code length, From address and message templates (issue 11)

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-07

``organizations``: the published grievance response period (``grievance_response_days``, at
most 90), the DPO or contact person (``dpo_name``, ``dpo_email``), the code length
(``challenge_digits``, 6-8) and the org's email From address (``email_from``). ``grievances``: the
tickets. ``message_templates``: an org's own wording of its code messages. Both are tenant
tables (row-level security on PostgreSQL). ``down_revision`` is 0010 while the other issue-13
migrations are written in parallel; it is re-chained at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations")
    )


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("challenge_digits", sa.Integer(), server_default="6", nullable=False))
        batch_op.add_column(sa.Column("email_from", sa.String(length=320), nullable=True))
        batch_op.add_column(
            sa.Column("grievance_response_days", sa.Integer(), server_default="30", nullable=False)
        )
        batch_op.add_column(sa.Column("dpo_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("dpo_email", sa.String(length=320), nullable=True))
    op.create_table(
        "grievances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("responded_at", UTCDateTime(), nullable=True),
        sa.Column("responder", sa.String(length=200), nullable=True),
        _org_fk("grievances"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_grievances_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grievances")),
    )
    with op.batch_alter_table("grievances", schema=None) as batch_op:
        batch_op.create_index("ix_grievances_org_id_status", ["org_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_grievances_user_id"), ["user_id"], unique=False)
    op.create_table(
        "message_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("template", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("part", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _org_fk("message_templates"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_templates")),
        sa.UniqueConstraint(
            "org_id",
            "template",
            "locale",
            "part",
            name=op.f("uq_message_templates_org_id_template_locale_part"),
        ),
    )
    with op.batch_alter_table("message_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_templates_org_id"), ["org_id"], unique=False)
    if policy.is_postgres():
        policy.isolate_tenant_table("grievances")
        policy.grant("grievances", "SELECT, INSERT, UPDATE, DELETE")
        policy.isolate_tenant_table("message_templates")
        policy.grant("message_templates", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.drop_table("message_templates")
    op.drop_table("grievances")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        for column in ("dpo_email", "dpo_name", "grievance_response_days", "email_from", "challenge_digits"):
            batch_op.drop_column(column)
