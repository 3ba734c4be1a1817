"""The digest jobs: each takes `now`, decides by the statutory calendar whether today is its
day, and queues its messages in the outbox.

Each message has a dedupe key `recipient|kind|period`, so running a job twice (after a restart
or on two instances) queues nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from loguru import logger

from bot.digests.calendar import (
    is_first_workday_of_week,
    is_last_workday_of_week,
    iso_week,
    warn_calendar_gap,
)
from bot.digests.loading import DIGEST_LISTED, load_world
from bot.digests.owner import Digest, owner_digests, reminders
from bot.digests.supervisor import supervisor_digest, supervisors
from bot.services.context import AppContext
from policies import workcal
from storage import eventlog as eventlog_db
from storage.db import session_scope


def _queue(services: AppContext, digests: Sequence[Digest], now: datetime) -> int:
    """Queue in one transaction; log which rooms each new owner digest asks to dissolve."""
    added = 0
    with session_scope(services.engine) as s:
        for d in digests:
            if services.outbox.enqueue(d.message, session=s):
                added += 1
                if d.message.kind == "owner_digest":
                    eventlog_db.log_event(
                        s,
                        kind=DIGEST_LISTED,
                        at=now,
                        actor_id=(d.message.mentions or (d.message.recipient_id,))[0],
                        subjects=d.dissolve_rooms,
                        detail={"key": d.message.dedupe_key, "period": d.message.period},
                    )
    return added


def owner_digest_job(services: AppContext, now: datetime, force: bool = False) -> int:
    """Weekly owner digests; runs only on the first working day of the ISO week (unless forced)."""
    tz = services.settings.tz
    today = now.astimezone(tz).date()
    warn_calendar_gap(today)
    if not force and not is_first_workday_of_week(today):
        return 0
    world = load_world(services.engine, services.rules, now, tz)
    n = _queue(services, owner_digests(world), now)
    logger.info("owner digests for {}: {} queued", iso_week(today), n)
    return n


def supervisor_digest_job(services: AppContext, now: datetime, force: bool = False) -> int:
    """Weekly supervisor digests; runs only on the last working day of the ISO week (unless forced)."""
    tz = services.settings.tz
    today = now.astimezone(tz).date()
    warn_calendar_gap(today)
    if not force and not is_last_workday_of_week(today):
        return 0
    world = load_world(services.engine, services.rules, now, tz)
    msgs = [m for m in (supervisor_digest(world, sid) for sid in supervisors(world)) if m is not None]
    n = _queue(services, [Digest(m) for m in msgs], now)
    logger.info("supervisor digests for {}: {} queued", iso_week(today), n)
    return n


def reminder_job(services: AppContext, now: datetime) -> int:
    """Daily: ending-soon reminders and expiry notices that are due today."""
    tz = services.settings.tz
    today = now.astimezone(tz).date()
    warn_calendar_gap(today)
    if not workcal.is_workday(today):
        return 0
    world = load_world(services.engine, services.rules, now, tz)
    n = _queue(services, [Digest(m) for m in reminders(world, services.settings.reminder_days_before)], now)
    if n:
        logger.info("reminders on {}: {} queued", today.isoformat(), n)
    return n
