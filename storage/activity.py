"""Activity counters: per-room per-day counts and per-sender days, written in batches; never message text."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, select, update
from sqlmodel import Session, col

from storage.db import in_chunks, insert_for, table_of
from storage.models import (
    DailyActivity,
    Room,
    SenderDay,
    UTCDateTime,
)


@dataclass(slots=True)
class DayCounters:
    messages: int = 0
    mention_all: int = 0
    after_hours: int = 0
    last_at: datetime | None = None


def flush_activity(
    session: Session,
    *,
    days: Mapping[tuple[str, date], DayCounters],
    senders: Mapping[tuple[str, date, str], int],
) -> None:
    """Add a batch of in-memory counters to the tables: a few executemany statements, one transaction."""
    if not days:
        return
    conn = session.connection()
    # Rows grouped by room (a cheap stable sort on the first key part; the recorder's dicts are in
    # arrival order, i.e. by day): consecutive upserts then hit neighbouring primary-key index pages
    # instead of random ones (benchmarks/ingest.py).
    sender_rows = sorted(senders.items(), key=lambda kv: kv[0][0])
    day_rows = sorted(days.items(), key=lambda kv: kv[0][0])
    da = table_of(DailyActivity).c
    ins = insert_for(session, table_of(SenderDay))
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=["room_id", "day", "contact_id"],
            set_={"messages": table_of(SenderDay).c.messages + ins.excluded.messages},
        ),
        [{"room_id": r, "day": d, "contact_id": c, "messages": n} for (r, d, c), n in sender_rows],
    )
    ins = insert_for(session, table_of(DailyActivity))
    last_col = table_of(DailyActivity).c.last_at
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=["room_id", "day"],
            set_={
                "messages": da.messages + ins.excluded.messages,
                "mention_all": da.mention_all + ins.excluded.mention_all,
                "after_hours": da.after_hours + ins.excluded.after_hours,
                "last_at": func.max(func.coalesce(last_col, ins.excluded.last_at), ins.excluded.last_at)
                if session.get_bind().dialect.name == "sqlite"
                else func.greatest(last_col, ins.excluded.last_at),
            },
        ),
        [
            {
                "room_id": r,
                "day": d,
                "messages": c.messages,
                "mention_all": c.mention_all,
                "after_hours": c.after_hours,
                "last_at": c.last_at,
                "distinct_senders": 0,
            }
            for (r, d), c in day_rows
        ],
    )
    sd = table_of(SenderDay).c
    conn.execute(
        update(table_of(DailyActivity))
        .where(and_(da.room_id == bindparam("r"), da.day == bindparam("d")))
        .values(
            distinct_senders=select(func.count())
            .where(sd.room_id == da.room_id, sd.day == da.day)
            .scalar_subquery()
        )
        .execution_options(synchronize_session=False),
        [{"r": r, "d": d} for (r, d), _ in day_rows],
    )
    latest: dict[str, datetime] = {}
    for (room_id, _), c in days.items():
        if c.last_at and (room_id not in latest or c.last_at > latest[room_id]):
            latest[room_id] = c.last_at
    rc = table_of(Room).c
    at_param = bindparam("at", type_=UTCDateTime())
    conn.execute(
        update(table_of(Room))
        .where(rc.id == bindparam("rid"), func.coalesce(rc.last_activity_at, at_param) <= at_param)
        .values(last_activity_at=at_param)
        .execution_options(synchronize_session=False),
        [{"rid": r, "at": at} for r, at in latest.items()],
    )


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
