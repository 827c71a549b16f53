"""delivery status on outbox rows, and when a member last wrote on each platform

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity") as identity:
        identity.add_column(
            sa.Column("last_inbound_at", storage.types.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("outbox") as outbox:
        outbox.add_column(
            sa.Column("delivery_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        outbox.add_column(
            sa.Column("delivery_status_at", storage.types.UTCDateTime(), nullable=True)
        )
        outbox.create_index("ix_outbox_delivery", ["platform", "delivery_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as outbox:
        outbox.drop_index("ix_outbox_delivery")
        outbox.drop_column("delivery_status_at")
        outbox.drop_column("delivery_status")
    with op.batch_alter_table("identity") as identity:
        identity.drop_column("last_inbound_at")
