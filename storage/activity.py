"""Activity counters: per-room per-day counts and per-sender days, written in batches; never message text."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, select
from sqlmodel import Session, col

from storage.db import in_chunks, table_of
from storage.models import (
    DailyActivity,
    Room,
    UTCDateTime,
)


@dataclass(slots=True)
class DayCounters:
    messages: int = 0
    mention_all: int = 0
    after_hours: int = 0
    last_at: datetime | None = None


# The flush's statements as the driver takes them. They bypass SQLAlchemy's per-row parameter
# processing, which cost more than SQLite's own work (about 5 us a row, 460k sender rows for
# 1M messages); the values are converted here instead, once per distinct value, to what the
# ORM's column types store (dates as ISO text on SQLite, moments as naive UTC).
_SENDERS_SQL = (
    "INSERT INTO senderday (room_id, day, contact_id, messages) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (room_id, day, contact_id) DO UPDATE SET messages = senderday.messages + excluded.messages"
)
_DAYS_SQL = (
    "INSERT INTO dailyactivity (room_id, day, messages, distinct_senders, mention_all, after_hours, last_at) "
    "VALUES (?, ?, ?, 0, ?, ?, ?) ON CONFLICT (room_id, day) DO UPDATE SET "
    "messages = dailyactivity.messages + excluded.messages, "
    "mention_all = dailyactivity.mention_all + excluded.mention_all, "
    "after_hours = dailyactivity.after_hours + excluded.after_hours, "
    "last_at = {latest}"
)
_LATEST = {
    "sqlite": "max(coalesce(dailyactivity.last_at, excluded.last_at), excluded.last_at)",
    "postgresql": "greatest(dailyactivity.last_at, excluded.last_at)",
}
_DISTINCT_SQL = (
    "UPDATE dailyactivity SET distinct_senders = (SELECT count(*) FROM senderday "
    "WHERE senderday.room_id = dailyactivity.room_id AND senderday.day = dailyactivity.day) "
    "WHERE room_id = ? AND day = ?"
)
_ROOM_SQL = "UPDATE room SET last_activity_at = ? WHERE id = ? AND coalesce(last_activity_at, ?) <= ?"


def flush_activity(
    session: Session,
    *,
    days: Mapping[tuple[str, date], DayCounters],
    senders: Mapping[tuple[str, date, str], int],
) -> None:
    """Add a batch of in-memory counters to the tables: a few executemany statements, one transaction."""
    if not days:
        return
    dialect = session.get_bind().dialect.name
    sqlite = dialect == "sqlite"
    # Rows in primary-key order (room, day, sender): consecutive upserts then hit neighbouring
    # index pages instead of random ones (benchmarks/ingest.py). One sort of plain tuples.
    day_value: dict[date, Any] = {d: d.isoformat() if sqlite else d for d in {d for _, d in days}}
    moment: dict[datetime, Any] = {}

    def stored(at: datetime | None) -> Any:
        if at is None:
            return None
        value = moment.get(at)
        if value is None:
            naive = at.astimezone(UTC).replace(tzinfo=None)
            value = moment[at] = naive.isoformat(" ", "microseconds") if sqlite else naive
        return value

    sender_rows = [(r, day_value[d], c, n) for (r, d, c), n in senders.items()]
    sender_rows.sort()
    day_rows = [
        (r, day_value[d], c.messages, c.mention_all, c.after_hours, stored(c.last_at))
        for (r, d), c in days.items()
    ]
    day_rows.sort()
    latest: dict[str, datetime] = {}
    for (room_id, _), c in days.items():
        if c.last_at and (room_id not in latest or c.last_at > latest[room_id]):
            latest[room_id] = c.last_at
    room_rows = [(stored(at), r, stored(at), stored(at)) for r, at in sorted(latest.items())]

    def sql(text: str) -> str:
        return text if sqlite else text.replace("?", "%s")

    # The session's own connection: the same transaction as the rest of the unit of work.
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql(_SENDERS_SQL), sender_rows)
        cursor.executemany(sql(_DAYS_SQL.format(latest=_LATEST[dialect])), day_rows)
        cursor.executemany(sql(_DISTINCT_SQL), [row[:2] for row in day_rows])
        cursor.executemany(sql(_ROOM_SQL), room_rows)
    finally:
        cursor.close()


def activity_sums(
    session: Session, *, ranges: Sequence[tuple[date, date]], room_ids: Collection[str] | None = None
) -> Iterator[tuple[Any, ...]]:
    """Per room (of `room_ids` when given) with activity rows on the days `ranges` cover,
    aggregated by the database:

    (room_id, then for each (start, end) of `ranges`: messages, after_hours and mention_all summed
    over the days start..end, 0 when none). Only the days from the earliest start to the latest
    end are read; a range spanning exactly those days is a plain sum (no CASE per row).
    """
    if not ranges:
        return
    first = min(start for start, _ in ranges)
    last = max(end for _, end in ranges)
    da = table_of(DailyActivity).c
    sums = []
    for start, end in ranges:
        for column in (da.messages, da.after_hours, da.mention_all):
            if (start, end) == (first, last):
                sums.append(func.coalesce(func.sum(column), 0))
            else:
                inside = and_(da.day >= start, da.day <= end)
                sums.append(func.coalesce(func.sum(case((inside, column), else_=0)), 0))
    stmt = select(da.room_id, *sums).where(da.day >= first, da.day <= last).group_by(da.room_id)
    yield from _for_rooms(session, stmt, da.room_id, room_ids)


def _for_rooms(session: Session, stmt: Any, column: Any, room_ids: Collection[str] | None) -> Iterator[Any]:
    """Rows of `stmt`, restricted to `room_ids` (in chunks) when given."""
    if room_ids is None:
        yield from session.execute(stmt)
        return
    for chunk in in_chunks(room_ids):
        yield from session.execute(stmt.where(column.in_(chunk)))


def latest_activity_of_rooms_ahead(
    session: Session, *, first: date, last: date, now: datetime, room_ids: Collection[str] | None = None
) -> Iterator[tuple[Any, ...]]:
    """(room_id, latest last_at over the days first..last) for rooms whose last activity is after `now`.

    An audit as of a past date cannot use `Room.last_activity_at` for those; for every other room
    it is already the answer, since `record_activity` keeps it the latest of its rows' last_at.
    Usually no room qualifies, so this reads almost nothing.
    """
    da = table_of(DailyActivity).c
    rc = table_of(Room).c
    stmt = (
        select(da.room_id, func.max(da.last_at))
        .join(table_of(Room), rc.id == da.room_id)
        .where(rc.last_activity_at > bindparam("now", now, type_=UTCDateTime()))
        .where(da.day >= first, da.day <= last)
        .group_by(da.room_id)
    )
    yield from _for_rooms(session, stmt, da.room_id, room_ids)


def messages_between(session: Session, *, room_id: str, first: date, last: date) -> int:
    return int(
        session.execute(
            select(func.coalesce(func.sum(DailyActivity.messages), 0)).where(
                col(DailyActivity.room_id) == room_id,
                col(DailyActivity.day) >= first,
                col(DailyActivity.day) <= last,
            )
        ).scalar()
        or 0
    )
