"""When each mentor request was matched (`mentor_request.matched_at`): the end of the
newcomer's wait, which the Mentorship page read by looking up the first accepted offer of
every request of the period

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:00:00.000000

Existing requests get theirs here, with this migration's own copy of that lookup: the first
offer the newcomer accepted at or after the request.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mentor_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("matched_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE mentor_request SET matched_at = ("
        "SELECT MIN(o.answered_at) FROM mentor_offer o"
        " WHERE o.newcomer_id = mentor_request.member_id AND o.status = 'accepted'"
        " AND o.answered_at >= mentor_request.requested_at)"
    )
    # A period's requests and their waits, read from the index alone.
    op.drop_index("ix_mentor_request_requested_at", table_name="mentor_request")
    op.create_index(
        "ix_mentor_request_requested_at",
        "mentor_request",
        ["requested_at", "member_id", "matched_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_mentor_request_requested_at", table_name="mentor_request")
    op.create_index(
        "ix_mentor_request_requested_at", "mentor_request", ["requested_at", "member_id"]
    )
    with op.batch_alter_table("mentor_request", schema=None) as batch_op:
        batch_op.drop_column("matched_at")
