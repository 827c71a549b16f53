"""Indexes for the health pages and `onramp report`: a period's first finishes of a flow,
runs by status and start, first kudos received, answers to a flow, and what became of a
campaign's messages; and the stored waits for a first message dropped, to be stored again in
their new form

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 05:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_flow_milestone_finished", "flow_milestone", ["flow_id", "finished_at"]),
    ("ix_flow_run_status_started", "flow_run", ["status", "started_at"]),
    ("ix_member_first_kudos_at", "member", ["first_kudos_at"]),
    ("ix_answer_flow_answered", "answer", ["flow_id", "answered_at"]),
    (
        "ix_campaign_recipient_outcome",
        "campaign_recipient",
        ["campaign_id", "status", "platform", "reason", "member_id"],
    ),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    # The waits for a first message are now stored as 8-byte floats, not JSON: the days stored
    # before are dropped (as a change drops them), and the next fill stores them again.
    op.execute("UPDATE day_summary SET summary = NULL, version = version + 1 WHERE kind = 'waits'")


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
