"""Refresh-token reuse window: a client's window, a consumed token's sealed successor response

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

``clients.refresh_reuse_window`` (seconds, NULL = the default for the client's type) and, on
``refresh_tokens``, the first use's token response encrypted under the keyring
(``successor_enc``) with the end of its window (``successor_expires_at``, indexed for the
sweep that destroys it). Both are NULL outside a window.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from namoid.storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refresh_reuse_window", sa.Integer(), nullable=True))
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("successor_enc", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("successor_expires_at", UTCDateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_successor_expires_at"), ["successor_expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_successor_expires_at"))
        batch_op.drop_column("successor_expires_at")
        batch_op.drop_column("successor_enc")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("refresh_reuse_window")
