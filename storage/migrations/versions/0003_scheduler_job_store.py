"""APScheduler job store table (bot/scheduler.py)

The SQLAlchemyJobStore would create this table itself on first start; creating it here keeps
every schema change in Alembic and lets deployments run the app without CREATE rights.
The layout is APScheduler 3's (apscheduler/jobstores/sqlalchemy.py).

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), index=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("apscheduler_jobs")
