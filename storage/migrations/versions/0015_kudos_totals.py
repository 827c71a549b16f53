"""Running totals of the live kudos each member (`member_id`) received, ever and per UTC day,
per kind of contribution and in all (''): what the leaderboards read (storage/tallies.py);
and an index of the shout-outs by date, which the anti-abuse rules count

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 05:30:00.000000

The rows are worked out here from the live kudos, with this migration's own copy of the SQL
(storage/tallies.py's `rebuild` as it was at this revision).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _member() -> sa.Column:
    return sa.Column(
        "member_id",
        sa.Integer(),
        sa.ForeignKey("member.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "kudos_total",
        _member(),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("kudos", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "category"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_kudos_total_points", "kudos_total", ["category", "points", "member_id"])
    op.create_table(
        "kudos_day_total",
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        _member(),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("kudos", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("category", "day", "member_id"),
        sqlite_with_rowid=False,
    )
    day = (
        "substr(created_at, 1, 10)"
        if op.get_bind().dialect.name == "sqlite"
        else "CAST(created_at AS DATE)"
    )
    live = "FROM kudos WHERE revoked_at IS NULL"
    # Per category, then in all ('': never grouped by, as PostgreSQL refuses a constant).
    for category, by in (("category", ", category"), ("''", "")):
        op.execute(
            "INSERT INTO kudos_total (member_id, category, points, kudos)"
            f" SELECT receiver_id, {category}, SUM(weight), COUNT(*) {live}"
            f" GROUP BY receiver_id{by}"
        )
        op.execute(
            "INSERT INTO kudos_day_total (day, category, member_id, points, kudos)"
            f" SELECT {day}, {category}, receiver_id, SUM(weight), COUNT(*) {live}"
            f" GROUP BY {day}{by}, receiver_id"
        )

    # The shout-outs of the last hour, counted before every kudos (the anti-abuse rules).
    op.create_index(
        "ix_kudos_shouted_created",
        "kudos",
        ["created_at"],
        sqlite_where=sa.text("shouted IS 1"),
        postgresql_where=sa.text("shouted IS TRUE"),
    )


def downgrade() -> None:
    op.drop_index("ix_kudos_shouted_created", table_name="kudos")
    op.drop_table("kudos_day_total")
    op.drop_index("ix_kudos_total_points", table_name="kudos_total")
    op.drop_table("kudos_total")
