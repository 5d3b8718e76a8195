"""Security events, webhook subscriptions, the event outbox; per-client refresh lifetimes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REVOCATION_INDEXES = (
    ("refresh_families", "client_id"),
    ("refresh_families", "user_id"),
    ("refresh_families", "sid"),
    ("access_tokens", "client_id"),
    ("access_tokens", "user_id"),
)


def _org_fk(table: str, *, nullable: bool = False) -> list[Any]:
    return [
        sa.Column("org_id", sa.Uuid(), nullable=nullable),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations")
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "security_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_org_fk("security_events", nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("subject", JSON, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_org_fk("webhook_subscriptions"),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_table(
        "event_outbox",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        *_org_fk("event_outbox"),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("leased_until", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("failed_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["security_events.id"], name=op.f("fk_event_outbox_event_id_security_events")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_event_outbox_subscription_id_webhook_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outbox")),
    )
    for table in ("security_events", "webhook_subscriptions", "event_outbox"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_org_id"), ["org_id"], unique=False)
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_outbox_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    # Revoking by user, client or browser session (logout) finds families and tokens by index.
    for table, column in REVOCATION_INDEXES:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refresh_token_ttl", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("refresh_idle_ttl", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("offline_access_on_logout", sa.String(length=8), nullable=False, server_default="keep")
        )

    policy.make_append_only("security_events")
    if policy.is_postgres():
        policy.isolate_tenant_table("security_events", allow_system_rows=True)
        policy.grant("security_events", "SELECT, INSERT")
        policy.isolate_tenant_table("webhook_subscriptions")
        policy.grant("webhook_subscriptions", "SELECT, INSERT, UPDATE")
        policy.isolate_tenant_table("event_outbox")
        policy.grant("event_outbox", "SELECT, INSERT, UPDATE, DELETE")
        policy.grant("event_outbox_id_seq", "USAGE")


def downgrade() -> None:
    for table, column in REVOCATION_INDEXES:
        op.drop_index(op.f(f"ix_{table}_{column}"), table)
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("offline_access_on_logout")
        batch_op.drop_column("refresh_idle_ttl")
        batch_op.drop_column("refresh_token_ttl")
    policy.drop_append_only("security_events")
    op.drop_table("event_outbox")
    op.drop_table("webhook_subscriptions")
    op.drop_table("security_events")
