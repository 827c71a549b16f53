"""Members found by name and by handle in one seek: `member.name_key` (the display name
Unicode-normalised, case-folded and with its spaces collapsed) indexed, and identities indexed
by handle

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:00:00.000000

Existing members get their key worked out here, with this migration's own copy of the rule
(storage/models.py's `name_key` as it was at this revision).
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5_000


def _key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())[:200]


def upgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "name_key",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
    connection = op.get_bind()
    member = sa.table("member", sa.column("id"), sa.column("display_name"), sa.column("name_key"))
    update = (
        sa.update(member)
        .where(member.c.id == sa.bindparam("member_id"))
        .values(name_key=sa.bindparam("key"))
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(member.c.id, member.c.display_name)
            .where(member.c.id > last)
            .order_by(member.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        changed = [
            {"member_id": id_, "key": key} for id_, name in rows if (key := _key(name or ""))
        ]
        if changed:
            connection.execute(update, changed)
        last = rows[-1][0]
    op.create_index("ix_member_name_key", "member", ["name_key"])
    op.create_index("ix_identity_handle", "identity", ["platform", "workspace", "username"])


def downgrade() -> None:
    op.drop_index("ix_identity_handle", table_name="identity")
    op.drop_index("ix_member_name_key", table_name="member")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("name_key")
