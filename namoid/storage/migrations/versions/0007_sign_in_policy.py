"""Sign-in policy per org and phone verification (issue 11)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

``organizations``: the login methods offered (``sign_in_methods``), self-service
``registration`` (closed/open), ``mfa`` (off/optional/required), the calling codes SMS may
go to (``sms_countries``) and ``test_mode``. ``users.phone_verified``: set only by a code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sign_in_methods", _JSON, server_default='["password"]', nullable=False)
        )
        batch_op.add_column(sa.Column("registration", sa.String(8), server_default="closed", nullable=False))
        batch_op.add_column(sa.Column("mfa", sa.String(8), server_default="off", nullable=False))
        batch_op.add_column(sa.Column("sms_countries", _JSON, server_default='["+91"]', nullable=False))
        batch_op.add_column(sa.Column("test_mode", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("phone_verified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("phone_verified")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        for column in ("test_mode", "sms_countries", "mfa", "registration", "sign_in_methods"):
            batch_op.drop_column(column)
