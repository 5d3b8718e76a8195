"""The outbox carries emails and SMS (a kind per row, an encrypted message payload); OTP challenges

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02

Existing rows are webhook deliveries (``kind`` defaults to ``webhook``). An ``email`` or
``sms`` row has no event or subscription; it has a ``message_id`` (the associated data its
``payload_enc`` is bound to) and, until it is delivered or failed, the message encrypted
under the keyring. ``otp_challenges`` holds one-time-code challenges (a keyed hash of the
code only), isolated per org by row-level security.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHECK = "kind_has_its_columns"
CHECK_SQL = (
    "(kind = 'webhook' AND event_id IS NOT NULL AND subscription_id IS NOT NULL) OR "
    "(kind IN ('email', 'sms') AND message_id IS NOT NULL "
    "AND (payload_enc IS NOT NULL OR delivered_at IS NOT NULL OR failed_at IS NOT NULL))"
)


def upgrade() -> None:
    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("interaction_hash", sa.String(length=64), nullable=False),
        sa.Column("destination_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("digits", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("last_sent_at", UTCDateTime(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("wrong_tries", sa.Integer(), nullable=False),
        sa.Column("consumed_at", UTCDateTime(), nullable=True),
        sa.Column("dead_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_otp_challenges_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_challenges")),
    )
    op.create_index(op.f("ix_otp_challenges_org_id"), "otp_challenges", ["org_id"])
    if policy.is_postgres():
        policy.isolate_tenant_table("otp_challenges")
        policy.grant("otp_challenges", "SELECT, INSERT, UPDATE, DELETE")
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="webhook", nullable=False))
        batch_op.add_column(sa.Column("message_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("payload_enc", sa.Text(), nullable=True))
        batch_op.alter_column("event_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.alter_column("subscription_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_event_outbox_message_id"), ["message_id"])
        batch_op.create_check_constraint(CHECK, CHECK_SQL)


def downgrade() -> None:
    op.drop_table("otp_challenges")
    op.execute("DELETE FROM event_outbox WHERE kind <> 'webhook'")
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(f"ck_event_outbox_{CHECK}"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_event_outbox_message_id"), type_="unique")
        batch_op.alter_column("subscription_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("event_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("payload_enc")
        batch_op.drop_column("message_id")
        batch_op.drop_column("kind")
