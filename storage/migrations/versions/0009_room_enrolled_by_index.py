"""Index on room.enrolled_by: a person's groups found without reading every room

我的群 and 保留 list the groups a person owns, administers or invited the bot to. The owner
column was indexed; the inviter was not, so each of those commands read the whole room table.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_enrolled_by"), ["enrolled_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_enrolled_by"))
