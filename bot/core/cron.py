"""Crontab strings for the scheduled jobs, parsed into APScheduler triggers."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

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
