"""The daily retention job: purge what is past the retention settings.

It is one of the scheduled jobs (bot/app/jobs.py): on the leader only (one purge per day,
whichever instance leads), on `settings.retention_cron`. It is idempotent, so a run repeated
after a restart or a missed day just catches up.
"""

from __future__ import annotations

from datetime import datetime

from loguru import logger
from sqlalchemy.engine import Engine

from bot.core.config import Settings
from bot.services.context import AppContext
from storage.db import scrubbing_session
from storage.retention import PurgeCounts, purge


def run_retention(engine: Engine, settings: Settings, now: datetime) -> PurgeCounts:
    """Purge everything past retention as of `now` in one transaction; returns what went.

    On SQLite the deletes zero the freed space (secure_delete), so purged rows do not linger
    in the database file; the WAL is recycled by SQLite's own checkpoints.
    """
    with scrubbing_session(engine) as session:
        counts = purge(
            session,
            now=now,
            tz=settings.tz,
            senderday_days=settings.senderday_retention_days,
            outbox_text_days=settings.outbox_text_retention_days,
            log_days=settings.log_retention_days,
            activity_days=settings.activity_retention_days,
        )
    if counts.total:
        logger.info("retention: purged {}", {k: v for k, v in counts.as_dict().items() if v})
    else:
        logger.debug("retention: nothing past retention")
    return counts


def retention_job(services: AppContext, now: datetime) -> int:
    """The scheduled form: purge as of `now`; returns how many rows went."""
    return run_retention(services.engine, services.settings, now).total
