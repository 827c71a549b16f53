"""The week's and the month's running totals of the kudos each member received: what the
week's and the month's leaderboards read (storage/tallies.py)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 10:00:00.000000

`kudos_total` gains `week_points`, `week_kudos`, `month_points` and `month_kudos`: the member's
kudos of the days from the first day of each window (`kudos_window`) on, with an index each
to read the first places from. The windows are placed as they would be on the last day with
kudos (without the clock: the first leaderboard read in a turn moves them on to today, from
the day totals) and filled from the day totals here, with this migration's own copy of the
SQL (storage/tallies.py's `_fill` as it was at this revision).
"""

from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WINDOWS = {"week": 7, "month": 30}


def upgrade() -> None:
    with op.batch_alter_table("kudos_total") as table:
        for period in WINDOWS:
            table.add_column(
                sa.Column(f"{period}_points", sa.Float(), nullable=False, server_default="0")
            )
            table.add_column(
                sa.Column(f"{period}_kudos", sa.Integer(), nullable=False, server_default="0")
            )
    for period in WINDOWS:
        op.create_index(
            f"ix_kudos_total_{period}",
            "kudos_total",
            ["category", f"{period}_points", f"{period}_kudos", "member_id"],
        )
    window = op.create_table(
        "kudos_window",
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("period"),
    )
    last = op.get_bind().execute(sa.text("SELECT MAX(day) FROM kudos_day_total")).scalar()
    if isinstance(last, str):  # SQLite keeps dates as text
        last = date.fromisoformat(last)
    last = last or date(2000, 1, 1)
    op.bulk_insert(
        window,
        [
            {"period": period, "first_day": last - timedelta(days=days - 1)}
            for period, days in WINDOWS.items()
        ],
    )
    for period in WINDOWS:
        op.execute(
            f"UPDATE kudos_total SET {period}_points = days.points, {period}_kudos = days.kudos"
            " FROM (SELECT member_id, category, SUM(points) AS points, SUM(kudos) AS kudos"
            " FROM kudos_day_total"
            f" WHERE day >= (SELECT first_day FROM kudos_window WHERE period = '{period}')"
            " GROUP BY member_id, category) AS days"
            " WHERE kudos_total.member_id = days.member_id"
            " AND kudos_total.category = days.category"
        )


def downgrade() -> None:
    op.drop_table("kudos_window")
    for period in WINDOWS:
        op.drop_index(f"ix_kudos_total_{period}", table_name="kudos_total")
    with op.batch_alter_table("kudos_total") as table:
        for period in WINDOWS:
            table.drop_column(f"{period}_kudos")
            table.drop_column(f"{period}_points")
