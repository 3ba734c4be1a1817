"""A job store written by the scheduler before it moved (bot.scheduler) still loads after it.

APScheduler keeps each job's function as an import path and silently deletes a job whose path
no longer imports, losing its stored next run time. The data file was written by the scheduler
as it was before the move (commit 14033c8), with the default cron settings.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text

from bot.app import App
from bot.core.clock import SystemClock
from bot.core.config import load_settings
from bot.runtime.scheduler import JOB_TABLE, AppScheduler, run_job
from storage.db import make_engine
from storage.migrate import upgrade

OLD_STORE = Path(__file__).parent / "data" / "jobstore-before-move.db"
STORED = {"owner_digest", "supervisor_digest", "reminders"}


def _copy(tmp_path: Path) -> str:
    db = tmp_path / "old.db"
    shutil.copyfile(OLD_STORE, db)
    return f"sqlite:///{db}"


def _stored_next_runs(url: str) -> dict[str, float]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT id, next_run_time FROM {JOB_TABLE}")).all()
    finally:
        engine.dispose()
    return {job_id: float(t) for job_id, t in rows}


async def _load(url: str) -> dict[str, tuple[object, datetime | None]]:
    """The jobs exactly as APScheduler reads them back from the store (paused: nothing runs)."""
    engine = make_engine(url)
    sched = AsyncIOScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)})
    try:
        sched.start(paused=True)
        return {job.id: (job.func, job.next_run_time) for job in sched.get_jobs()}
    finally:
        sched.shutdown(wait=False)
        engine.dispose()


async def test_the_old_store_is_dropped_without_the_migration(tmp_path: Path) -> None:
    """The control: as written, the store's jobs do not load (APScheduler deletes them)."""
    url = _copy(tmp_path)
    assert set(_stored_next_runs(url)) == STORED
    assert await _load(url) == {}
    assert _stored_next_runs(url) == {}


async def test_the_old_store_loads_after_the_upgrade_with_its_next_run_times(tmp_path: Path) -> None:
    url = _copy(tmp_path)
    before = _stored_next_runs(url)
    engine = make_engine(url)
    upgrade(engine)  # what every start does
    engine.dispose()
    loaded = await _load(url)
    assert set(loaded) == STORED
    for job_id, (func, next_run) in loaded.items():
        assert func is run_job
        assert next_run is not None
        assert next_run.timestamp() == before[job_id]


async def test_the_scheduler_keeps_the_stored_next_run_times(tmp_path: Path) -> None:
    """Unchanged triggers: the app's scheduler keeps the stored jobs, so a missed run still happens."""
    url = _copy(tmp_path)
    before = _stored_next_runs(url)
    engine = make_engine(url)
    upgrade(engine)
    app = App(engine=engine, settings=load_settings(data_dir=tmp_path, database_url=url), clock=SystemClock())
    sched = AppScheduler(app.ctx)
    try:
        sched.start()
        # Read before yielding to the loop: the resumed scheduler has not processed anything yet.
        runs = sched.next_run_times()
    finally:
        sched.shutdown()
        engine.dispose()
    # Jobs added since (retention) start fresh; the stored ones keep their times.
    assert {k: v.timestamp() if v else None for k, v in runs.items() if k in STORED} == before
    assert set(runs) >= STORED


def test_migration_0005_rewrites_the_path_both_ways(db_url: str, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL: up rewrites only the function path, down restores it."""
    import pickle

    from alembic import command

    from storage.migrate import alembic_config

    old = make_engine(_copy(tmp_path))
    with old.connect() as conn:
        rows = conn.execute(text(f"SELECT id, next_run_time, job_state FROM {JOB_TABLE}")).all()
    old.dispose()
    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0004")
        with engine.begin() as conn:
            for job_id, next_run, state in rows:
                conn.execute(
                    text(f"INSERT INTO {JOB_TABLE} (id, next_run_time, job_state) VALUES (:i, :n, :s)"),
                    {"i": job_id, "n": next_run, "s": state},
                )

        def states() -> dict[str, dict[str, str]]:
            """Each job's state, values as repr (triggers have no equality of their own)."""
            with engine.connect() as conn:
                got = conn.execute(text(f"SELECT id, job_state FROM {JOB_TABLE}")).all()
            return {
                job_id: {k: repr(v) for k, v in pickle.loads(blob).items()}
                for job_id, blob in got
            }

        before = states()
        assert {s["func"] for s in before.values()} == {repr("bot.scheduler:run_job")}
        upgrade(engine)
        after = states()
        assert {s["func"] for s in after.values()} == {repr("bot.runtime.scheduler:run_job")}
        for job_id, state in after.items():
            assert {**state, "func": repr("bot.scheduler:run_job")} == before[job_id]
        command.downgrade(alembic_config(engine), "0004")
        assert states() == before
    finally:
        engine.dispose()
