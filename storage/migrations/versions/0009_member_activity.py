"""Member activity: one row per member per UTC day they were active, and when the bot first
reached each member (community health metrics)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00.000000

Existing members get what can be known of them: one day of activity, the day of their
`last_active_at`, and their `first_reached_at` from the earliest message sent them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_activity",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("member_id", "day"),
    )
    op.create_index("ix_member_activity_day_member", "member_activity", ["day", "member_id"])
    # The health metrics start from who joined when, and read kudos by period, giver and kind,
    # and by receiver and day.
    op.create_index("ix_member_created_at", "member", ["created_at"])
    op.create_index(
        "ix_flow_run_finished", "flow_run", ["flow_id", "status", "member_id", "finished_at"]
    )
    live = sa.text("revoked_at IS NULL")
    op.drop_index("ix_kudos_live_created", table_name="kudos")
    op.create_index(
        "ix_kudos_live_created",
        "kudos",
        # revoked_at, always NULL here: SQLite treats a partial index as covering only when
        # it holds the columns of its own WHERE.
        ["created_at", "receiver_id", "weight", "giver_id", "category", "revoked_at"],
        sqlite_where=live,
        postgresql_where=live,
    )
    op.create_index(
        "ix_kudos_live_receiver_created",
        "kudos",
        ["receiver_id", "created_at", "revoked_at"],
        sqlite_where=live,
        postgresql_where=live,
    )
    op.create_index(
        "ix_kudos_live_giver_created",
        "kudos",
        ["giver_id", "created_at", "revoked_at"],
        sqlite_where=live,
        postgresql_where=live,
    )
    op.drop_index("ix_kudos_live_category_created", table_name="kudos")
    op.create_index(
        "ix_kudos_live_category_created",
        "kudos",
        ["category", "created_at", "receiver_id", "weight", "revoked_at"],
        sqlite_where=live,
        postgresql_where=live,
    )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_reached_at", storage.types.UTCDateTime(), nullable=True)
        )

    sqlite = op.get_bind().dialect.name == "sqlite"
    day = "date(m.last_active_at)" if sqlite else "CAST(m.last_active_at AS DATE)"
    op.execute(
        "INSERT INTO member_activity (member_id, day, platform) "
        f"SELECT m.id, {day}, COALESCE(("
        "SELECT i.platform FROM identity i WHERE i.member_id = m.id ORDER BY i.id LIMIT 1"
        "), '') FROM member m"
    )
    op.execute(
        "UPDATE member SET first_reached_at = ("
        "SELECT MIN(o.sent_at) FROM outbox o "
        "WHERE o.member_id = member.id AND o.sent_at IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("first_reached_at")
    live = sa.text("revoked_at IS NULL")
    op.drop_index("ix_kudos_live_receiver_created", table_name="kudos")
    op.drop_index("ix_kudos_live_giver_created", table_name="kudos")
    op.drop_index("ix_kudos_live_category_created", table_name="kudos")
    op.create_index(
        "ix_kudos_live_category_created",
        "kudos",
        ["category", "created_at", "receiver_id", "weight"],
        sqlite_where=live,
        postgresql_where=live,
    )
    op.drop_index("ix_kudos_live_created", table_name="kudos")
    op.create_index(
        "ix_kudos_live_created",
        "kudos",
        ["created_at", "receiver_id", "weight"],
        sqlite_where=live,
        postgresql_where=live,
    )
    op.drop_index("ix_flow_run_finished", table_name="flow_run")
    op.drop_index("ix_member_created_at", table_name="member")
    op.drop_index("ix_member_activity_day_member", table_name="member_activity")
    op.drop_table("member_activity")
