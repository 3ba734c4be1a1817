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
from bot.digests.loading import DIGEST_LISTED, load_campaigns, load_trends, load_world
from bot.digests.owner import Digest, owner_digests, reminders
from bot.digests.supervisor import digest_key, supervisor_digest, supervisors
from bot.reports.charts import png_bytes, trend_figure
from bot.reports.outgoing import chart_message
from bot.reports.progress import chart_file_name, trend_chart
from bot.services.campaigns import CampaignCoverage
from bot.services.context import AppContext
from policies import workcal
from storage import eventlog as eventlog_db
from storage import outbox as outbox_db
from storage.db import session_scope

CHART_KIND = "supervisor_chart"  # the trend chart that follows a covered supervisor's digest


def _queue(services: AppContext, digests: Sequence[Digest], now: datetime) -> int:
    """Queue in one transaction; log which rooms each new owner digest asks to dissolve."""
    added = 0
    with session_scope(services.engine) as s:
        # Routed as one batch: the round spreads evenly over the accounts.
        fresh = services.outbox.enqueue_many([d.message for d in digests], session=s)
        listed = []
        for d, new in zip(digests, fresh, strict=True):
            if not new:
                continue
            added += 1
            if d.message.kind == "owner_digest":
                listed.append(
                    {
                        "kind": DIGEST_LISTED,
                        "at": now,
                        "actor_id": (d.message.mentions or (d.message.recipient_id,))[0],
                        "subjects": d.dissolve_rooms,
                        "detail": {"key": d.message.dedupe_key, "period": d.message.period},
                    }
                )
        eventlog_db.log_events(s, listed)
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
    period = iso_week(today)
    sids = supervisors(world)
    with session_scope(services.engine) as s:
        queued = outbox_db.outbox_status_by_key(s, keys=[digest_key(sid, period) for sid in sids])
    # Digests queued already (a rerun, another instance) are neither composed nor drawn again.
    todo = {sid: world.contacts[sid].unit or "" for sid in sids if digest_key(sid, period) not in queued}
    coverage = load_campaigns(services.engine, services.rules, now, tz, todo.values())
    charts = _trend_charts(services, now, coverage, period)
    digests: list[Digest] = []
    for sid, unit in todo.items():
        msg = supervisor_digest(world, sid, coverage.get(unit, ()))
        if msg is None:
            continue
        digests.append(Digest(msg))
        if unit in charts:  # right after its text, in the same transaction: it follows the text out
            name, png = charts[unit]
            digests.append(
                Digest(chart_message(recipient_id=sid, kind=CHART_KIND, period=period, name=name, png=png))
            )
    n = _queue(services, digests, now)
    logger.info("supervisor digests for {}: {} queued ({} charts)", period, n, len(charts))
    return n


def _trend_charts(
    services: AppContext, now: datetime, coverage: dict[str, list[CampaignCoverage]], period: str
) -> dict[str, tuple[str, bytes]]:
    """unit -> (file name, PNG) of the trend chart of its latest campaign, drawn once per unit.

    Drawn here, in the job's worker thread: the charts serialise on a lock and must never run on
    the event loop."""
    charted = {unit: covs[-1] for unit, covs in coverage.items()}  # the most recently started
    trends = load_trends(services.engine, services.rules, now, services.settings.tz, charted)
    return {
        unit: (chart_file_name(unit, period), png_bytes(trend_figure(trend_chart(unit, statuses))))
        for unit, statuses in trends.items()
    }


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
