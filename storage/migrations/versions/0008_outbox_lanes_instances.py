"""Outbox lanes (replies at any hour, pushes in working time), instance heartbeats, and rooms
missing from a login's room list (unconfirmed until a later check)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("room") as batch:
        batch.add_column(sa.Column("missing_since", UTCDateTime(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        # Rows queued before lanes existed keep the old rule (working time): "push".
        batch.add_column(sa.Column("lane", sa.String(), nullable=False, server_default="push"))
        batch.create_index("ix_outbox_lane_due", ["status", "lane", "not_before"])
    op.create_table(
        "instance",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("host", sa.String(), nullable=False, server_default=""),
        sa.Column("pid", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("account", sa.String(), nullable=True),
        sa.Column("logged_in", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("logged_out_since", UTCDateTime(), nullable=True),
        sa.Column("connected", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_event_at", UTCDateTime(), nullable=True),
        sa.Column("leader", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_instance_updated_at", "instance", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_instance_updated_at", table_name="instance")
    op.drop_table("instance")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_lane_due")
        batch.drop_column("lane")
    with op.batch_alter_table("room") as batch:
        batch.drop_column("missing_since")
