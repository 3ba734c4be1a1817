"""The scheduled jobs: an id, the Settings field with its cron string, and what it runs.

The live scheduler (bot.runtime) and the simulation (bot.sim) both read this one table, so a
scenario fires exactly the jobs production does, on the same triggers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from bot.core.cron import parse_cron
from bot.digests import jobs as digest_jobs
from bot.services.context import AppContext
from bot.services.retention import retention_job


@dataclass(frozen=True)
class JobSpec:
    id: str
    setting: str  # the Settings field holding the cron string
    run: Callable[[AppContext, datetime], int]

    def trigger(self, services: AppContext) -> CronTrigger:
        return parse_cron(str(getattr(services.settings, self.setting)), services.settings.tz)


JOBS: dict[str, JobSpec] = {
    s.id: s
    for s in (
        JobSpec("owner_digest", "owner_digest_cron", digest_jobs.owner_digest_job),
        JobSpec("supervisor_digest", "supervisor_digest_cron", digest_jobs.supervisor_digest_job),
        JobSpec("reminders", "reminder_cron", digest_jobs.reminder_job),
        JobSpec("retention", "retention_cron", retention_job),
    )
}
