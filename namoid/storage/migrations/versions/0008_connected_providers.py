"""Connected providers: upstream providers, connections, the token vault, the consent ledger

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-02

The consent ledger is append-only with the audit log's protections: a trigger on both
backends, and on PostgreSQL the app role may only SELECT and INSERT.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from namoid.storage.migrations import policy
from namoid.storage.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MUTABLE_TABLES = (
    "upstream_providers",
    "provider_connections",
    "provider_tokens",
    "provider_authorizations",
    "token_exchange_permissions",
)


def _uuid_pk_and_org(table: str) -> list[Any]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def _create_tables() -> None:
    op.create_table(
        "upstream_providers",
        *_uuid_pk_and_org("upstream_providers"),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("preset", sa.String(length=16), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=True),
        sa.Column("endpoints", JSON, nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_enc", sa.Text(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("create_accounts", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_upstream_providers_org_id_name")),
    )
    op.create_table(
        "provider_connections",
        *_uuid_pk_and_org("provider_connections"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        _fk("provider_connections", "user_id", "users"),
        _fk("provider_connections", "provider_id", "upstream_providers"),
        sa.UniqueConstraint(
            "org_id",
            "provider_id",
            "subject",
            name=op.f("uq_provider_connections_org_id_provider_id_subject"),
        ),
        sa.UniqueConstraint(
            "org_id",
            "provider_id",
            "user_id",
            name=op.f("uq_provider_connections_org_id_provider_id_user_id"),
        ),
    )
    op.create_table(
        "provider_tokens",
        *_uuid_pk_and_org("provider_tokens"),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=False),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        sa.Column("id_token_enc", sa.Text(), nullable=True),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _fk("provider_tokens", "connection_id", "provider_connections"),
        _fk("provider_tokens", "user_id", "users"),
        _fk("provider_tokens", "provider_id", "upstream_providers"),
        sa.UniqueConstraint("connection_id", name=op.f("uq_provider_tokens_connection_id")),
    )
    op.create_table(
        "provider_authorizations",
        *_uuid_pk_and_org("provider_authorizations"),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("request_handle", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("browser_sid", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("verifier_enc", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        _fk("provider_authorizations", "provider_id", "upstream_providers"),
        _fk("provider_authorizations", "user_id", "users"),
        sa.UniqueConstraint("state_hash", name=op.f("uq_provider_authorizations_state_hash")),
    )
    op.create_table(
        "token_exchange_permissions",
        *_uuid_pk_and_org("token_exchange_permissions"),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _fk("token_exchange_permissions", "provider_id", "upstream_providers"),
        sa.UniqueConstraint(
            "org_id",
            "client_id",
            "provider_id",
            name=op.f("uq_token_exchange_permissions_org_id_client_id_provider_id"),
        ),
    )
    op.create_table(
        "consent_records",
        sa.Column("seq", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("consent_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("counterparty", sa.String(length=200), nullable=False),
        sa.Column("purposes", JSON, nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_consent_records_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_consent_records")),
    )


def upgrade() -> None:
    _create_tables()
    for table in MUTABLE_TABLES:
        op.create_index(op.f(f"ix_{table}_org_id"), table, ["org_id"])
    op.create_index(op.f("ix_provider_connections_user_id"), "provider_connections", ["user_id"])
    op.create_index("ix_consent_records_org_id_user_id", "consent_records", ["org_id", "user_id"])

    policy.make_append_only("consent_records")
    if policy.is_postgres():
        for table in (*MUTABLE_TABLES, "consent_records"):
            policy.isolate_tenant_table(table)
        for table in MUTABLE_TABLES:
            policy.grant(table, "SELECT, INSERT, UPDATE, DELETE")
        policy.grant("consent_records", "SELECT, INSERT")
        policy.grant("consent_records_seq_seq", "USAGE")


def downgrade() -> None:
    policy.drop_append_only("consent_records")
    op.drop_table("consent_records")
    for table in reversed(MUTABLE_TABLES):
        op.drop_table(table)
