"""A recipient's open outbox rows from an index of those alone

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 15:00:00.000000

Before taking a message, a claim checks that no earlier one to the same recipient is still
open. `ix_outbox_recipient` (platform, recipient, id) held every row ever queued, so the check
read the recipient's whole history from the table to look at each row's status: a member with
a hundred messages behind them cost a hundred row reads on every reply to them, and the kudos
workload spent a sixth of its time there. `ix_outbox_open` holds only the rows still to be
delivered (pending or sending), a handful at any time, and nothing else reads the old index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# This migration's own copy of storage.statuses.OUTBOX_OPEN_SQL as it was at this revision.
OPEN = "status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_open",
        "outbox",
        ["platform", "recipient", "id"],
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    op.drop_index("ix_outbox_recipient", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_recipient", "outbox", ["platform", "recipient", "id"])
    op.drop_index("ix_outbox_open", table_name="outbox")
