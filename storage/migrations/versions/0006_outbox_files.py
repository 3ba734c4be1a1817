"""outbox rows may carry a file (a chart image) instead of text

`file_name` is what the recipient sees; `file_data` holds the bytes until the row is sent, in
the row itself, so the instance that leads delivery needs no shared disk.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("file_name", sa.String(), nullable=True))
        batch.add_column(sa.Column("file_data", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("file_data")
        batch.drop_column("file_name")
