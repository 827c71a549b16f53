"""Failed events: what kept failing is recorded and acknowledged instead of blocking the rest

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 10:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "failed_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("workspace", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("retried_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column(
            "event",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("failed_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_failed_event_failed_at"), ["failed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_failed_event_member_id"), ["member_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("failed_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_failed_event_member_id"))
        batch_op.drop_index(batch_op.f("ix_failed_event_failed_at"))

    op.drop_table("failed_event")
