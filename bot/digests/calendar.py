"""The statutory calendar as the digests see it: ISO weeks, first and last working days, due days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from loguru import logger

from policies import workcal

CALENDAR_LOOKAHEAD_DAYS = 30

_calendar_warned = False


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def is_first_workday_of_week(day: date) -> bool:
    days = workcal.week_workdays(day)
    return bool(days) and days[0] == day


def is_last_workday_of_week(day: date) -> bool:
    days = workcal.week_workdays(day)
    return bool(days) and days[-1] == day


def reminder_day(end: date, days_before: int) -> date:
    """The working day `days_before` calendar days before `end`, or the last working day before that."""
    day = end - timedelta(days=days_before)
    while not workcal.is_workday(day):
        day -= timedelta(days=1)
    return day


def expiry_day(end: date) -> date:
    """The first working day after the (inclusive) end date."""
    day = end + timedelta(days=1)
    while not workcal.is_workday(day):
        day += timedelta(days=1)
    return day


def calendar_gap(today: date, days: int = CALENDAR_LOOKAHEAD_DAYS) -> date | None:
    """The first of the coming `days` dates the holiday data does not know, if any."""
    for i in range(days + 1):
        day = today + timedelta(days=i)
        if not workcal.covers(day):
            return day
    return None


def warn_calendar_gap(today: date) -> date | None:
    """Log once per process when the holiday data runs out within the look-ahead window."""
    global _calendar_warned
    gap = calendar_gap(today)
    if gap is not None and not _calendar_warned:
        _calendar_warned = True
        logger.warning(
            "holiday calendar has no data from {} on; working days fall back to Monday-Friday "
            "(update chinese-calendar)",
            gap.isoformat(),
        )
    return gap


def week_start(today: date, tz: ZoneInfo) -> datetime:
    monday = today - timedelta(days=today.weekday())
    return datetime.combine(monday, datetime.min.time(), tzinfo=tz)


def month_day(day: date) -> str:
    return f"{day.month}月{day.day}日"
