"""Scheduler job store: the job function's new import path

APScheduler pickles each job's state with its function as an import path. The scheduler moved
from `bot.scheduler` to `bot.runtime.scheduler`; a stored job whose path no longer imports is
silently deleted on load, losing its next run time (and with it a missed run's catch-up). This
rewrites the stored paths, keeping everything else in each job's state as it was.

Revision ID: 0005
Revises: 0004
"""

import pickle
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "bot.scheduler:run_job"
NEW = "bot.runtime.scheduler:run_job"


def _rewrite(old: str, new: str) -> None:
    conn = op.get_bind()
    jobs = sa.table("apscheduler_jobs", sa.column("id"), sa.column("job_state", sa.LargeBinary))
    for job_id, blob in conn.execute(sa.select(jobs.c.id, jobs.c.job_state)).all():
        # The store itself unpickles these rows; they are ours, written by APScheduler.
        state = pickle.loads(blob)  # noqa: S301
        if state.get("func") != old:
            continue
        state["func"] = new
        conn.execute(
            jobs.update().where(jobs.c.id == job_id).values(job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL))
        )


def upgrade() -> None:
    _rewrite(OLD, NEW)


def downgrade() -> None:
    _rewrite(NEW, OLD)
