"""The one scheduler: APScheduler 3 (`AsyncIOScheduler`) with its job store in the project database.

Jobs are thin: each calls a function of `bot.digests` with `now`; the calendar decisions (first or
last working day of the week, working days only) live there, so cron strings only say the time
of day. The same CronTrigger objects drive `qingqun simulate` on the virtual clock (`SimJob`).

Several instances. Two `qingqun run` processes may share one PostgreSQL database. Only the
holder of a session-level advisory lock (`pg_try_advisory_lock`) leads: it runs the scheduler and
delivers the outbox. The others retry every `leader_poll_interval` seconds and take over when the
leader's database session ends (process killed, connection lost). Should two processes ever both
act, the outbox still holds: its unique dedupe key keeps a digest from being queued twice, and
`FOR UPDATE SKIP LOCKED` keeps a row from being claimed twice. SQLite has no such lock and is
single-instance: there, this process always leads.

Persistence. The job store keeps each job's next run time. At start a stored job whose trigger is
unchanged is kept as it is, so a run missed while no instance was up still happens (once,
coalesced) if we are back within `scheduler_misfire_grace` seconds; a changed cron replaces it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from loguru import logger

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from bot.outbox import Transport
    from bot.services import App
    from bot.simulate import Job

JOB_TABLE = "apscheduler_jobs"
LEADER_LOCK_KEY = 0x71_69_6E_67  # "qing"
_DOW = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_cron(expr: str, tz: ZoneInfo) -> CronTrigger:
    """A crontab string: 5 fields (minute hour day month weekday) or 6 with seconds first.

    Weekday numbers follow crontab (0 or 7 = Sunday), not APScheduler's (0 = Monday).
    Raises ValueError naming what is wrong.
    """
    fields = expr.split()
    if len(fields) not in (5, 6):
        raise ValueError(f"expected 5 cron fields (minute hour day month weekday), got {expr!r}")
    second = fields[0] if len(fields) == 6 else "0"
    minute, hour, day, month, dow = fields[-5:]
    dow = re.sub(r"\d+", lambda m: _DOW[int(m.group())] if int(m.group()) < 8 else m.group(), dow)
    try:
        return CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=dow, timezone=tz
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"invalid cron {expr!r}: {exc}") from exc


# ---------------------------------------------------------------- the jobs


@dataclass(frozen=True)
class JobSpec:
    id: str
    setting: str  # the Settings field holding the cron string
    run: Callable[[App, datetime], int]


def _specs() -> dict[str, JobSpec]:
    from bot import digests

    return {
        s.id: s
        for s in (
            JobSpec("owner_digest", "owner_digest_cron", digests.owner_digest_job),
            JobSpec("supervisor_digest", "supervisor_digest_cron", digests.supervisor_digest_job),
            JobSpec("reminders", "reminder_cron", digests.reminder_job),
        )
    }


def trigger_for(app: App, spec: JobSpec) -> CronTrigger:
    return parse_cron(str(getattr(app.settings, spec.setting)), app.settings.tz)


# The app of this process, for jobs loaded from the persistent store (they are stored by reference).
_runtime: App | None = None


async def run_job(job_id: str) -> None:
    """Entry point APScheduler calls (by reference `bot.scheduler:run_job`)."""
    app = _runtime
    if app is None:
        logger.warning("scheduled job {} fired with no app running; skipped", job_id)
        return
    spec = _specs()[job_id]
    now = app.clock.now()
    try:
        await app.recorder.flush_async()  # digests should see the activity counted so far
        await asyncio.to_thread(spec.run, app, now)
    except Exception:
        logger.exception("scheduled job {} failed", job_id)


class AppScheduler:
    """The app's one AsyncIOScheduler; started when this process becomes leader."""

    def __init__(self, app: App) -> None:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self.app = app
        self._sched = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=app.engine, tablename=JOB_TABLE)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": app.settings.scheduler_misfire_grace,
            },
            timezone=app.settings.tz,
        )

    @property
    def running(self) -> bool:
        return bool(self._sched.running)

    def start(self) -> None:
        global _runtime
        _runtime = self.app
        self._sched.start(paused=True)
        for spec in _specs().values():
            trigger = trigger_for(self.app, spec)
            stored = self._sched.get_job(spec.id)
            if stored is not None and repr(stored.trigger) == repr(trigger):
                continue  # keep its stored next run time, so a missed run still happens
            self._sched.add_job(
                run_job, trigger, args=[spec.id], id=spec.id, name=spec.id, replace_existing=True
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


# ---------------------------------------------------------------- leadership


class Leadership:
    """Holds a PostgreSQL session-level advisory lock on a dedicated connection; SQLite always leads."""

    def __init__(self, engine: Engine, key: int = LEADER_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._conn: Connection | None = None
        self.single = engine.dialect.name != "postgresql"

    @property
    def held(self) -> bool:
        return self.single or self._conn is not None

    def try_acquire(self) -> bool:
        """Take or keep the lock; False when another process holds it or our session is gone."""
        from sqlalchemy import text

        if self.single:
            return True
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return True
            except Exception:
                logger.warning("lost the leadership session; stepping down")
                self._drop()
                return False
        conn = self._engine.connect()
        # Detached: closing it really closes the session (and frees the lock) instead of pooling it.
        conn.detach()
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar())
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def release(self) -> None:
        from sqlalchemy import text

        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._conn.commit()
        except Exception:
            logger.info("could not unlock leadership cleanly; closing the session frees it")
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                logger.info("leadership connection did not close cleanly")


class Coordinator:
    """Leadership + scheduler + outbox delivery for a live process (`qingqun run`)."""

    def __init__(self, app: App, leadership: Leadership | None = None, scheduler: AppScheduler | None = None):
        self.app = app
        self.leadership = leadership or Leadership(app.engine)
        self.scheduler = scheduler or AppScheduler(app)
        self.leading = False

    async def _check(self) -> None:
        try:
            ok = await asyncio.to_thread(self.leadership.try_acquire)
        except Exception:
            logger.exception("leadership check failed")
            ok = False
        if ok and not self.leading:
            # Rows a dead leader left `sending` count as sent (see bot/outbox.py).
            await asyncio.to_thread(self.app.outbox.recover)
            self.scheduler.start()
            self.leading = True
            logger.info("this instance leads: scheduler started, delivering the outbox")
        elif not ok and self.leading:
            self.scheduler.shutdown()
            self.leading = False
            logger.warning("this instance no longer leads: scheduler stopped")
        elif not ok:
            logger.debug("another instance leads; waiting")

    async def run(self, transport: Transport) -> None:
        """Run until cancelled."""
        loop = asyncio.get_running_loop()
        interval = self.app.settings.leader_poll_interval
        next_check = loop.time()
        try:
            while True:
                if loop.time() >= next_check:
                    await self._check()
                    next_check = loop.time() + interval
                delay = interval
                if self.leading:
                    try:
                        wake = await self.app.outbox.step(transport)
                    except Exception:
                        logger.exception("outbox step failed")
                        wake = None
                    now = self.app.clock.now()
                    delay = 1.0 if wake is None else min(max((wake - now).total_seconds(), 0.05), 1.0)
                await asyncio.sleep(max(0.05, min(delay, next_check - loop.time())))
        finally:
            self.stop()

    def stop(self) -> None:
        self.scheduler.shutdown()
        self.leadership.release()
        self.leading = False


# ---------------------------------------------------------------- simulation


class SimJob:
    """A job on the virtual clock, driven by the same CronTrigger as the live scheduler."""

    def __init__(self, app: App, spec: JobSpec, start: datetime) -> None:
        self.app = app
        self.spec = spec
        self.trigger = trigger_for(app, spec)
        self._next: datetime | None = self.trigger.get_next_fire_time(None, start)

    def next_fire_time(self, after: datetime) -> datetime | None:
        return self._next

    async def fire(self, now: datetime) -> None:
        try:
            self.spec.run(self.app, now)
        except Exception:
            logger.exception("simulated job {} failed", self.spec.id)
        prev = self._next if self._next is not None else now
        nxt = self.trigger.get_next_fire_time(prev, now)
        if nxt is not None and nxt <= now:  # coalesce runs we are already past, as live does
            nxt = self.trigger.get_next_fire_time(None, now + timedelta(microseconds=1))
        self._next = nxt


def sim_jobs(app: App) -> list[Job]:
    """The scheduled jobs for `Simulation` (its default `jobs`)."""
    start = app.clock.now()
    return [SimJob(app, spec, start) for spec in _specs().values()]

