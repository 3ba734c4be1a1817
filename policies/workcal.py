"""Statutory working calendar (Asia/Shanghai local dates), with a Monday-Friday fallback.

`chinese-calendar` ships holiday data for a fixed range of years and raises for dates beyond it.
Callers that must keep running (quiet hours, digests) use these helpers, which fall back to
Monday-Friday and let the caller report the gap via `covers()`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import chinese_calendar

WORK_START = time(8, 30)
WORK_END = time(18, 0)


def covers(day: date) -> bool:
    """True when the holiday data knows this date."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_workday(day: date) -> bool:
    """Statutory working day, adjusted weekend workdays included; Mon-Fri beyond the data."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def is_working_time(local: datetime, start: time = WORK_START, end: time = WORK_END) -> bool:
    """Whether a naive or aware *local* datetime falls inside working hours on a working day."""
    t = local.time().replace(tzinfo=None)
    return is_workday(local.date()) and start <= t < end


def next_working_time(local: datetime, start: time = WORK_START, end: time = WORK_END) -> datetime:
    """The earliest moment at or after `local` that is inside working hours (same tzinfo)."""
    if is_working_time(local, start, end):
        return local
    day = local.date()
    if local.time().replace(tzinfo=None) < start and is_workday(day):
        return datetime.combine(day, start, tzinfo=local.tzinfo)
    day += timedelta(days=1)
    while not is_workday(day):
        day += timedelta(days=1)
    return datetime.combine(day, start, tzinfo=local.tzinfo)


def add_workdays(day: date, n: int) -> date:
    """Move n working days forward (n > 0) or backward (n < 0)."""
    step = 1 if n >= 0 else -1
    left = abs(n)
    while left:
        day += timedelta(days=step)
        if is_workday(day):
            left -= 1
    return day


def week_workdays(day: date) -> list[date]:
    """The working days of the ISO week (Mon-Sun) containing `day`, adjusted Saturdays included."""
    monday = day - timedelta(days=day.weekday())
    return [d for d in (monday + timedelta(days=i) for i in range(7)) if is_workday(d)]
