"""Several bot accounts, one database: accounts, which account is in which room and is whose
friend, the room's observing account, and the sending account of each outbox row

Existing rows keep working as before: a room without presence rows and an outbox row without
an account are served by whichever account is there, as with a single account.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False, server_default=""),
        sa.Column("room_limit", sa.Integer(), nullable=False, server_default="300"),
        sa.Column("first_login_at", UTCDateTime(), nullable=True),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "roompresence",
        sa.Column("room_id", sa.String(), primary_key=True),
        sa.Column("account_id", sa.String(), primary_key=True),
        sa.Column("since", UTCDateTime(), nullable=True),
        sa.Column("missing_since", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_roompresence_account", "roompresence", ["account_id"])
    op.create_table(
        "contactreach",
        sa.Column("contact_id", sa.String(), primary_key=True),
        sa.Column("account_id", sa.String(), primary_key=True),
    )
    op.create_index("ix_contactreach_account", "contactreach", ["account_id"])
    with op.batch_alter_table("room") as batch:
        batch.add_column(sa.Column("observer_id", sa.String(), nullable=True))
        batch.create_index("ix_room_observer_id", ["observer_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("account_id", sa.String(), nullable=True))
        batch.create_index("ix_outbox_account_due", ["account_id", "status", "not_before"])
        batch.create_index("ix_outbox_account_sent", ["account_id", "sent_at"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_account_sent")
        batch.drop_index("ix_outbox_account_due")
        batch.drop_column("account_id")
    with op.batch_alter_table("room") as batch:
        batch.drop_index("ix_room_observer_id")
        batch.drop_column("observer_id")
    op.drop_index("ix_contactreach_account", table_name="contactreach")
    op.drop_table("contactreach")
    op.drop_index("ix_roompresence_account", table_name="roompresence")
    op.drop_table("roompresence")
    op.drop_table("account")
