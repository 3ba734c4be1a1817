"""The one scheduler: APScheduler 3 (`AsyncIOScheduler`) with its job store in the project database.

Jobs are thin: each calls a job of `bot.app.jobs.JOBS` with `now`; the calendar decisions (first
or last working day of the week, working days only) live in the digests, so cron strings only
say the time of day. The simulation fires the same triggers on its virtual clock (bot.sim.jobs).

Persistence. The job store keeps each job's next run time. At start a stored job whose trigger is
unchanged is kept as it is, so a run missed while no instance was up still happens (once,
coalesced) if we are back within `scheduler_misfire_grace` seconds; a changed cron replaces it.
The store refers to `run_job` by its import path (JOB_FUNC); the Alembic migration 0005
rewrites the path stores held before the module moved here, since APScheduler silently drops a
job whose function it cannot import.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from loguru import logger

from bot.app.jobs import JOBS
from bot.services.context import AppContext

JOB_TABLE = "apscheduler_jobs"
JOB_FUNC = "bot.runtime.scheduler:run_job"

# The services of this process, for jobs loaded from the persistent store (stored by reference).
_runtime: AppContext | None = None


async def run_job(job_id: str) -> None:
    """Entry point APScheduler calls (by reference, JOB_FUNC)."""
    services = _runtime
    if services is None:
        logger.warning("scheduled job {} fired with no app running; skipped", job_id)
        return
    spec = JOBS[job_id]
    now = services.clock.now()
    try:
        await services.recorder.flush_async()  # digests should see the activity counted so far
        await asyncio.to_thread(spec.run, services, now)
    except Exception:
        logger.exception("scheduled job {} failed", job_id)


class AppScheduler:
    """The process's one AsyncIOScheduler; started when this process becomes leader."""

    def __init__(self, services: AppContext) -> None:
        self.services = services
        self._sched = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=services.engine, tablename=JOB_TABLE)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": services.settings.scheduler_misfire_grace,
            },
            timezone=services.settings.tz,
        )

    @property
    def running(self) -> bool:
        return bool(self._sched.running)

    def start(self) -> None:
        global _runtime
        _runtime = self.services
        self._sched.start(paused=True)
        for spec in JOBS.values():
            trigger = spec.trigger(self.services)
            stored = self._sched.get_job(spec.id)
            if stored is not None and repr(stored.trigger) == repr(trigger):
                continue  # keep its stored next run time, so a missed run still happens
            self._sched.add_job(
                JOB_FUNC, trigger, args=[spec.id], id=spec.id, name=spec.id, replace_existing=True
            )
        self._sched.resume()
        for job in self._sched.get_jobs():
            logger.info("job {} next runs at {}", job.id, job.next_run_time)

    def shutdown(self) -> None:
        global _runtime
        if self._sched.running:
            self._sched.shutdown(wait=False)
        _runtime = None

    def next_run_times(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self._sched.get_jobs()}
