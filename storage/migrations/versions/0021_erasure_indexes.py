"""Indexes an erasure's deletes look through

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:20:00.000000

Deleting a row checks, for each foreign key that points at it, the rows that name it. A
mentor's offers, deleted with their erasure, were each checked against every mentorship
(`mentorship.offer_id` had no index): 1.8 s for a mentor with a thousand offers in
`bench/erasure.py`'s community of 100,000 members. And deleting the member read every kudos
for `revoked_by`, which only revoked kudos hold: a partial index, which no new kudos writes to.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REVOKED = "revoked_by IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_mentorship_offer_id", "mentorship", ["offer_id"])
    op.create_index(
        "ix_kudos_revoked_by",
        "kudos",
        ["revoked_by"],
        sqlite_where=sa.text(REVOKED),
        postgresql_where=sa.text(REVOKED),
    )


def downgrade() -> None:
    op.drop_index("ix_kudos_revoked_by", table_name="kudos")
    op.drop_index("ix_mentorship_offer_id", table_name="mentorship")
