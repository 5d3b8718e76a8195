"""Offline KYC: the signer certificate's standing on the masked record; verified_claims
consented for UserInfo on codes, refresh families and access tokens (issue 14)

Revision ID: 0017
Revises: 0010
Create Date: 2026-12-07

``down_revision`` is 0010 while 0011-0016 are written in parallel; it is re-chained at merge.
Records stored before this revision were all verified inside their signer's validity; grants
made before it released no verified claims at UserInfo.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
USERINFO_TABLES = ("authorization_codes", "refresh_families", "access_tokens")


def upgrade() -> None:
    with op.batch_alter_table("kyc_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("signer_standing", sa.String(length=16), nullable=False, server_default="in_validity")
        )
    for table in USERINFO_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("userinfo_verified_claims", JSON, nullable=True))


def downgrade() -> None:
    for table in reversed(USERINFO_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("userinfo_verified_claims")
    with op.batch_alter_table("kyc_records", schema=None) as batch_op:
        batch_op.drop_column("signer_standing")
