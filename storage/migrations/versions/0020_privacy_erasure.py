"""An erasure that keeps kudos for the others, a list of erased identities, the bot's own secrets

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 18:30:00.000000

Erasing a member deleted every kudos they gave or received, so the people they had thanked lost
points and badges' progress. Now a kudos stays with the erased side empty (`giver_id` or
`receiver_id` NULL: "a former member") and its reason blanked. `erased_identity` holds keyed
pseudonyms of the platform identities of erased members (never welcomed again by a workspace
join, never sent a campaign), and `app_secret` the pseudonyms' key when the operator sets none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kudos") as table:
        table.alter_column("giver_id", existing_type=sa.Integer(), nullable=True)
        table.alter_column("receiver_id", existing_type=sa.Integer(), nullable=True)
    op.create_table(
        "erased_identity",
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("erased_at", storage.types.UTCDateTime(), nullable=False),
    )
    op.create_table(
        "app_secret",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_secret")
    op.drop_table("erased_identity")
    # Kudos of erased members have no one on that side any more: they cannot stay.
    op.execute("DELETE FROM kudos WHERE giver_id IS NULL OR receiver_id IS NULL")
    with op.batch_alter_table("kudos") as table:
        table.alter_column("receiver_id", existing_type=sa.Integer(), nullable=False)
        table.alter_column("giver_id", existing_type=sa.Integer(), nullable=False)
