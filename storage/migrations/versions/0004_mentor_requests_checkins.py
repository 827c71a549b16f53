"""mentor requests and check-ins

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:28:46.924749
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mentor_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("requested_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id"),
    )
    with op.batch_alter_table("mentor_request", schema=None) as batch_op:
        batch_op.create_index("ix_mentor_request_status", ["status"], unique=False)

    op.create_table(
        "checkin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentorship_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("asked_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("answered_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mentorship_id"], ["mentorship.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mentorship_id", "member_id", "number"),
    )
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_member_id"), ["member_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_checkin_mentorship_id"), ["mentorship_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_mentorship_id"))
        batch_op.drop_index(batch_op.f("ix_checkin_member_id"))

    op.drop_table("checkin")
    with op.batch_alter_table("mentor_request", schema=None) as batch_op:
        batch_op.drop_index("ix_mentor_request_status")

    op.drop_table("mentor_request")
