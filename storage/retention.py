"""Retention: delete or clear what is past its keep-by date. Idempotent; the caller owns the session.

What goes, and when (days counted back from `now`; per-day tables by local date in `tz`):

* senderday rows (messages per person per room per day) older than `senderday_days`;
* dailyactivity rows (per-room counters) older than `activity_days`;
* the text of sent or failed outbox rows older than `outbox_text_days`. The row itself stays,
  because its `dedupe_key` is what makes a digest exactly-once: enqueueing the same key again
  adds nothing, so a digest whose text was purged is never sent a second time;
* sent or failed outbox rows older than `log_days`. By then no job can produce their key again:
  keys name an ISO week, a day, an end date or a request, and every job only catches up a few
  days. Pending rows are never touched;
* event log, command log, closed memberships and topic changes older than `log_days`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Delete, Update, delete, update
from sqlmodel import Session, col

from storage.models import CommandLog, DailyActivity, EventLog, Membership, Outbox, SenderDay, TopicChange

DONE = ("sent", "failed")


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """Rows deleted (or, for outbox texts, cleared) per kind."""

    sender_days: int = 0
    daily_activity: int = 0
    outbox_texts: int = 0
    outbox_rows: int = 0
    events: int = 0
    commands: int = 0
    memberships: int = 0
    topic_changes: int = 0

    @property
    def total(self) -> int:
        return sum(asdict(self).values())

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def purge(
    session: Session,
    *,
    now: datetime,
    tz: ZoneInfo,
    senderday_days: int,
    outbox_text_days: int,
    log_days: int,
    activity_days: int,
) -> PurgeCounts:
    """Delete or clear everything past retention as of `now`; running it again removes nothing more."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    for name, days in (
        ("senderday_days", senderday_days),
        ("outbox_text_days", outbox_text_days),
        ("log_days", log_days),
        ("activity_days", activity_days),
    ):
        if days < 1:
            raise ValueError(f"{name} must be at least 1, got {days}")
    today = now.astimezone(tz).date()
    log_cutoff = now - timedelta(days=log_days)
    text_cutoff = now - timedelta(days=outbox_text_days)

    def run(stmt: Delete | Update) -> int:
        result = session.execute(stmt.execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)

    sender_days = run(delete(SenderDay).where(col(SenderDay.day) < today - timedelta(days=senderday_days)))
    daily = run(delete(DailyActivity).where(col(DailyActivity.day) < today - timedelta(days=activity_days)))
    outbox_rows = run(delete(Outbox).where(col(Outbox.status).in_(DONE), col(Outbox.created_at) < log_cutoff))
    outbox_texts = run(
        update(Outbox)
        .where(col(Outbox.status).in_(DONE), col(Outbox.created_at) < text_cutoff, col(Outbox.text) != "")
        .values(text="")
    )
    events = run(delete(EventLog).where(col(EventLog.at) < log_cutoff))
    commands = run(delete(CommandLog).where(col(CommandLog.at) < log_cutoff))
    memberships = run(
        delete(Membership).where(col(Membership.left_at).is_not(None), col(Membership.left_at) < log_cutoff)
    )
    topics = run(delete(TopicChange).where(col(TopicChange.at) < log_cutoff))
    return PurgeCounts(
        sender_days=sender_days,
        daily_activity=daily,
        outbox_texts=outbox_texts,
        outbox_rows=outbox_rows,
        events=events,
        commands=commands,
        memberships=memberships,
        topic_changes=topics,
    )
