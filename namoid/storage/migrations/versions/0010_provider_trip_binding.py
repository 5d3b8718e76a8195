"""Provider trips: the SHA-256 of the trip cookie that binds the callback to the browser (issue 12)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

A ``form_post`` upstream (Apple) returns with a cross-site POST that carries no SameSite=Lax
session cookie; the trip is bound to the browser by its own SameSite=None cookie instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("provider_authorizations", sa.Column("binding_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provider_authorizations") as batch:
        batch.drop_column("binding_hash")
