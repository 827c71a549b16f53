"""recognition

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:26:15.149283
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "badge_award",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("badge", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("awarded_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id", "badge"),
    )
    with op.batch_alter_table("badge_award", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_badge_award_member_id"), ["member_id"], unique=False)

    op.create_table(
        "kudos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("giver_id", sa.Integer(), nullable=False),
        sa.Column("receiver_id", sa.Integer(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("shouted", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["giver_id"], ["member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["receiver_id"], ["member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["revoked_by"], ["member.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kudos", schema=None) as batch_op:
        batch_op.create_index("ix_kudos_giver_created", ["giver_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_kudos_live_category_created",
            ["category", "created_at", "receiver_id", "weight"],
            unique=False,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.create_index(
            "ix_kudos_live_created",
            ["created_at", "receiver_id", "weight"],
            unique=False,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.create_index(
            "ix_kudos_live_receiver",
            ["receiver_id", "category", "weight"],
            unique=False,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.create_index(
            "ix_kudos_pair_created", ["giver_id", "receiver_id", "created_at"], unique=False
        )

    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.drop_column("username")

    with op.batch_alter_table("kudos", schema=None) as batch_op:
        batch_op.drop_index("ix_kudos_pair_created")
        batch_op.drop_index(
            "ix_kudos_live_receiver",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_kudos_live_created",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_kudos_live_category_created",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index("ix_kudos_giver_created")

    op.drop_table("kudos")
    with op.batch_alter_table("badge_award", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_badge_award_member_id"))

    op.drop_table("badge_award")
