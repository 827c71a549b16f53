"""Day summaries for the health metrics: which members were active, joined, gave or received
a live kudos on each closed UTC day (compressed bitmaps), and how many kudos and badges (counts);
and the tables the metrics read by period indexed by date

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 02:00:00.000000

The table starts empty: the periodic job fills it from the rows (storage/health/daysets.py),
and until it has, the metrics read the rows themselves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# What the health metrics read a period by.
INDEXES = (
    ("ix_badge_award_awarded_at", "badge_award", ["awarded_at", "badge"]),
    ("ix_mentor_offer_offered_at", "mentor_offer", ["offered_at", "status"]),
    ("ix_mentor_offer_newcomer_answered", "mentor_offer", ["newcomer_id", "status", "answered_at"]),
    ("ix_mentorship_started_at", "mentorship", ["started_at", "mentor_id"]),
    ("ix_mentor_request_requested_at", "mentor_request", ["requested_at", "member_id"]),
    ("ix_checkin_asked_at", "checkin", ["asked_at", "answered_at"]),
)


def upgrade() -> None:
    op.create_table(
        "day_summary",
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("summary", sa.LargeBinary(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "day"),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("day_summary")
