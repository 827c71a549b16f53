"""Member milestones for the health metrics: when each member's mentor request was made, when
they were first matched as a newcomer, first received a live kudos, first finished each flow
and became retained after it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 23:00:00.000000

Existing members get theirs worked out from the rows. The SQL is this migration's own copy of
what storage/activity.py's `rebuild` did when it was written: a migration must do the same
thing forever, whatever later revisions change in that module (a column it names may not
exist yet at this revision).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        for name in ("mentor_requested_at", "first_matched_at", "first_kudos_at"):
            batch_op.add_column(sa.Column(name, storage.types.UTCDateTime(), nullable=True))
    op.create_table(
        "flow_milestone",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("finished_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("retained_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("member_id", "flow_id"),
    )
    _backfill(op.get_bind().dialect.name)


def downgrade() -> None:
    op.drop_table("flow_milestone")
    with op.batch_alter_table("member", schema=None) as batch_op:
        for name in ("first_kudos_at", "first_matched_at", "mentor_requested_at"):
            batch_op.drop_column(name)


# As storage/activity.py had them at this revision (see the docstring).
_DAYS = {
    "sqlite": {
        "finished": "date(flow_milestone.finished_at)",
        "last": "date(flow_milestone.finished_at, '+28 days')",
        "week_after": (
            "date(flow_milestone.finished_at, '+' || (7 * (1 + CAST(("
            "julianday({first}) - julianday(date(flow_milestone.finished_at)) - 1) / 7"
            " AS INTEGER)) + 1) || ' days')"
        ),
    },
    "postgresql": {
        "finished": "CAST(flow_milestone.finished_at AS DATE)",
        "last": "(CAST(flow_milestone.finished_at AS DATE) + 28)",
        "week_after": (
            "(CAST(flow_milestone.finished_at AS DATE) + 7 * (1 + ("
            "{first} - CAST(flow_milestone.finished_at AS DATE) - 1) / 7) + 1)"
        ),
    },
}


def _retained(dialect: str) -> str:
    days = _DAYS[dialect]
    window = (
        "{a}.member_id = flow_milestone.member_id"
        f" AND {{a}}.day > {days['finished']} AND {{a}}.day <= {days['last']}"
    )
    first = f"(SELECT MIN(b.day) FROM member_activity b WHERE {window.format(a='b')})"
    return (
        f"(SELECT MIN(a.day) FROM member_activity a WHERE {window.format(a='a')}"
        f" AND a.day >= {days['week_after'].format(first=first)})"
    )


def _backfill(dialect: str) -> None:
    first_kudos = (
        "SELECT MIN(k.created_at) FROM kudos k"
        " WHERE k.receiver_id = member.id AND k.revoked_at IS NULL"
    )
    first_match = "SELECT MIN(s.started_at) FROM mentorship s WHERE s.newcomer_id = member.id"
    requested = "SELECT r.requested_at FROM mentor_request r WHERE r.member_id = member.id"
    for statement in (
        f"UPDATE member SET mentor_requested_at = ({requested}),"
        f" first_matched_at = ({first_match}), first_kudos_at = ({first_kudos})",
        "DELETE FROM flow_milestone",
        "INSERT INTO flow_milestone (member_id, flow_id, finished_at)"
        " SELECT member_id, flow_id, MIN(finished_at) FROM flow_run"
        " WHERE status = 'completed' AND finished_at IS NOT NULL GROUP BY member_id, flow_id",
        f"UPDATE flow_milestone SET retained_on = {_retained(dialect)}",
    ):
        op.execute(sa.text(statement))
