"""Organizations, users, clients, signing keys and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _org_fk() -> sa.Column[uuid.UUID]:
    return sa.Column("org_id", sa.Uuid(), sa.ForeignKey("organizations.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("slug", sa.String(63), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _org_fk(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(16)),
        sa.Column("name", sa.String(200)),
        sa.Column("password_hash", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime()),
        sa.Column("deletion_reason", sa.String(200)),
        sa.UniqueConstraint("org_id", "email"),
    )
    op.create_table(
        "clients",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _org_fk(),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("client_type", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.Text()),
        sa.Column("token_endpoint_auth_method", sa.String(32), nullable=False),
        sa.Column("redirect_uris", JSON, nullable=False),
        sa.Column("post_logout_redirect_uris", JSON, nullable=False),
        sa.Column("grant_types", JSON, nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("jwks", JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("org_id", "client_id"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _org_fk(),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("public_jwk", JSON, nullable=False),
        sa.Column("private_key_enc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime()),
        sa.UniqueConstraint("org_id", "kid"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.Uuid(), sa.ForeignKey("organizations.id")),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(200)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32)),
        sa.Column("target_id", sa.String(200)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("ip", sa.String(45)),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("detail", JSON, nullable=False),
    )
    for table in ("users", "clients", "signing_keys", "audit_log"):
        op.create_index(f"ix_{table}_org_id", table, ["org_id"])
    policy.make_append_only("audit_log")

    if policy.is_postgres():
        policy.ensure_app_role()
        for table in ("users", "clients", "signing_keys"):
            policy.isolate_tenant_table(table)
            policy.grant(table, "SELECT, INSERT, UPDATE, DELETE")
        policy.isolate_tenant_table("audit_log", allow_system_rows=True)
        policy.grant("audit_log", "SELECT, INSERT")
        policy.grant("audit_log_seq_seq", "USAGE")
        policy.grant("organizations", "SELECT, INSERT, UPDATE")
        policy.grant("alembic_version", "SELECT")


def downgrade() -> None:
    policy.drop_append_only("audit_log")
    for table in ("audit_log", "signing_keys", "clients", "users", "organizations"):
        op.drop_table(table)
