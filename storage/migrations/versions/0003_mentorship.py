"""mentorship: mentor profiles, offers (one per pair ever) and mentorships

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mentor_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("newcomer_id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("offered_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("answered_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["mentor_id"], ["member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["newcomer_id"], ["member.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("newcomer_id", "mentor_id"),
    )
    with op.batch_alter_table("mentor_offer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mentor_offer_mentor_id"), ["mentor_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_mentor_offer_newcomer_id"), ["newcomer_id"], unique=False
        )
        batch_op.create_index(
            "ix_mentor_offer_status_expires_at", ["status", "expires_at"], unique=False
        )

    op.create_table(
        "mentor_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column(
            "topics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "languages",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("hours_start", sa.Integer(), nullable=True),
        sa.Column("hours_end", sa.Integer(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("intro", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("expired_in_a_row", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id"),
    )
    op.create_table(
        "mentorship",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("newcomer_id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("ended_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.ForeignKeyConstraint(["mentor_id"], ["member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["newcomer_id"], ["member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["offer_id"], ["mentor_offer.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mentorship", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mentorship_mentor_id"), ["mentor_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_mentorship_newcomer_id"), ["newcomer_id"], unique=False
        )
        batch_op.create_index("ix_mentorship_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mentorship", schema=None) as batch_op:
        batch_op.drop_index("ix_mentorship_status")
        batch_op.drop_index(batch_op.f("ix_mentorship_newcomer_id"))
        batch_op.drop_index(batch_op.f("ix_mentorship_mentor_id"))

    op.drop_table("mentorship")
    op.drop_table("mentor_profile")
    with op.batch_alter_table("mentor_offer", schema=None) as batch_op:
        batch_op.drop_index("ix_mentor_offer_status_expires_at")
        batch_op.drop_index(batch_op.f("ix_mentor_offer_newcomer_id"))
        batch_op.drop_index(batch_op.f("ix_mentor_offer_mentor_id"))

    op.drop_table("mentor_offer")
