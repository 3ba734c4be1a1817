"""Keyword-only queries and upserts. Callers own the session (one per unit of work)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Date, DateTime, Table, and_, bindparam, case, func, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import NullType
from sqlmodel import Session, SQLModel, col

from storage.models import (
    Contact,
    DailyActivity,
    EventLog,
    Membership,
    Outbox,
    Room,
    SenderDay,
    TopicChange,
    Unit,
    UTCDateTime,
)

_Row = TypeVar("_Row")


def _table(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel class (for executemany statements that bypass the ORM)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def _insert(session: Session, table: Any) -> Any:
    """A dialect-specific INSERT so ON CONFLICT works on SQLite and PostgreSQL alike."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# ---------------------------------------------------------------- roster


def upsert_unit(session: Session, *, name: str, parent: str | None) -> None:
    unit = session.get(Unit, name)
    if unit is None:
        session.add(Unit(name=name, parent=parent))
    else:
        unit.parent = parent


def upsert_contact(
    session: Session,
    *,
    contact_id: str,
    name: str | None = None,
    friend: bool | None = None,
    unit: str | None = None,
    role: str | None = None,
) -> Contact:
    """Create or update a contact; None leaves a field as it is."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        contact = Contact(id=contact_id, name=name or "")
        session.add(contact)
    if name:
        contact.name = name
    if friend is not None:
        contact.friend = friend
    if unit is not None:
        contact.unit = unit
    if role is not None:
        contact.role = role
    return contact


def subtree_of(parents: Mapping[str, str | None], root: str) -> set[str]:
    """The unit and all units below it, given each unit's parent."""
    children: dict[str | None, list[str]] = {}
    for name, parent in parents.items():
        children.setdefault(parent, []).append(name)
    out: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(children.get(name, []))
    return out


def unit_subtree(session: Session, *, root: str) -> set[str]:
    """The unit and all units below it."""
    return subtree_of({u.name: u.parent for u in session.scalars(select(Unit))}, root)


# ---------------------------------------------------------------- rooms


def get_room(session: Session, *, room_id: str) -> Room | None:
    return session.get(Room, room_id)


def enrol_room(
    session: Session,
    *,
    room_id: str,
    topic: str,
    owner_id: str | None,
    admin_ids: Sequence[str],
    member_ids: Sequence[str],
    by: str | None,
    at: datetime,
) -> tuple[Room, bool]:
    """Enrol a room the bot is in (or re-activate one it had left). Returns (room, newly_enrolled)."""
    room = session.get(Room, room_id)
    fresh = room is None
    if room is None:
        room = Room(id=room_id, enrolled_at=at, enrolled_by=by, status="active", status_at=at)
        session.add(room)
    elif room.status != "active":
        room.status, room.status_at = "active", at
        room.enrolled_by = by or room.enrolled_by
        fresh = True
    if room.topic and topic and room.topic != topic:
        session.add(TopicChange(room_id=room_id, at=at, old_topic=room.topic, new_topic=topic))
    room.topic = topic or room.topic
    room.owner_id = owner_id or room.owner_id
    room.admin_ids = json.dumps(sorted(admin_ids))
    sync_members(session, room=room, member_ids=member_ids, at=at)
    return room, fresh


def current_member_ids(session: Session, *, room_id: str) -> set[str]:
    rows = session.scalars(
        select(col(Membership.contact_id)).where(
            col(Membership.room_id) == room_id, col(Membership.left_at).is_(None)
        )
    )
    return set(rows)


def sync_members(session: Session, *, room: Room, member_ids: Iterable[str], at: datetime) -> None:
    """Make the open memberships equal `member_ids`: close the missing, open the new."""
    wanted = set(member_ids)
    have = current_member_ids(session, room_id=room.id)
    add_members(session, room=room, member_ids=wanted - have, at=at)
    remove_members(session, room=room, member_ids=have - wanted, at=at)
    room.member_count = len(wanted)


def add_members(session: Session, *, room: Room, member_ids: Iterable[str], at: datetime) -> int:
    have = current_member_ids(session, room_id=room.id)
    new = [m for m in dict.fromkeys(member_ids) if m not in have]
    for contact_id in new:
        session.add(Membership(room_id=room.id, contact_id=contact_id, joined_at=at))
    room.member_count = len(have) + len(new)
    return len(new)


def remove_members(session: Session, *, room: Room, member_ids: Iterable[str], at: datetime) -> int:
    ids = set(member_ids)
    if not ids:
        return 0
    session.flush()
    result = session.execute(
        update(Membership)
        .where(
            col(Membership.room_id) == room.id,
            col(Membership.contact_id).in_(ids),
            col(Membership.left_at).is_(None),
        )
        .values(left_at=at)
    )
    closed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    room.member_count = max(0, room.member_count - closed)
    return closed


def change_topic(session: Session, *, room: Room, new_topic: str, by: str | None, at: datetime) -> None:
    if room.topic == new_topic:
        return
    session.add(TopicChange(room_id=room.id, at=at, old_topic=room.topic, new_topic=new_topic, changed_by=by))
    room.topic = new_topic


def set_status(session: Session, *, room: Room, status: str, at: datetime) -> None:
    if room.status != status:
        room.status, room.status_at = status, at


def log_event(
    session: Session,
    *,
    kind: str,
    at: datetime,
    room_id: str | None = None,
    actor_id: str | None = None,
    subjects: Sequence[str] = (),
    detail: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        EventLog(
            kind=kind,
            at=at,
            room_id=room_id,
            actor_id=actor_id,
            subjects=json.dumps(list(subjects), ensure_ascii=False),
            detail=json.dumps(dict(detail or {}), ensure_ascii=False, default=str),
        )
    )


def all_rooms(session: Session) -> list[Room]:
    return list(session.scalars(select(Room).order_by(Room.id)))


def current_members_by_room(session: Session) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    rows = session.execute(
        select(col(Membership.room_id), col(Membership.contact_id)).where(col(Membership.left_at).is_(None))
    )
    for room_id, contact_id in rows:
        out.setdefault(room_id, set()).add(contact_id)
    return out


def activity_since(session: Session, *, since: date) -> list[DailyActivity]:
    return list(
        session.scalars(select(DailyActivity).where(col(DailyActivity.day) >= since))
    )


def contacts(session: Session) -> dict[str, Contact]:
    return {c.id: c for c in session.scalars(select(Contact))}


# ---------------------------------------------------------------- activity


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
    da = _table(DailyActivity).c
    ins = _insert(session, _table(SenderDay))
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=["room_id", "day", "contact_id"],
            set_={"messages": _table(SenderDay).c.messages + ins.excluded.messages},
        ),
        [{"room_id": r, "day": d, "contact_id": c, "messages": n} for (r, d, c), n in sender_rows],
    )
    ins = _insert(session, _table(DailyActivity))
    last_col = _table(DailyActivity).c.last_at
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
    sd = _table(SenderDay).c
    conn.execute(
        update(_table(DailyActivity))
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
    rc = _table(Room).c
    at_param = bindparam("at", type_=UTCDateTime())
    conn.execute(
        update(_table(Room))
        .where(rc.id == bindparam("rid"), func.coalesce(rc.last_activity_at, at_param) <= at_param)
        .values(last_activity_at=at_param)
        .execution_options(synchronize_session=False),
        [{"rid": r, "at": at} for r, at in latest.items()],
    )


# ---------------------------------------------------------------- outbox


def enqueue_outbox(
    session: Session,
    *,
    dedupe_key: str,
    text: str,
    kind: str,
    period: str,
    recipient_id: str | None,
    room_id: str | None,
    mentions: Sequence[str],
    at: datetime,
    not_before: datetime,
) -> bool:
    """Insert unless the key exists already; True when a row was added."""
    ins = _insert(session, Outbox).values(
        dedupe_key=dedupe_key,
        text=text,
        kind=kind,
        period=period,
        recipient_id=recipient_id,
        room_id=room_id,
        mentions=json.dumps(list(mentions)),
        status="pending",
        attempts=0,
        created_at=at,
        not_before=not_before,
    )
    # RETURNING rather than rowcount: with the implicit RETURNING SQLAlchemy adds on PostgreSQL,
    # rowcount is -1 whether or not a row went in.
    result = session.execute(ins.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Outbox.id))
    return result.first() is not None


def claim_next_outbox(session: Session, *, now: datetime) -> Outbox | None:
    """The next due row, locked so another instance skips it (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
    stmt = (
        select(Outbox)
        .where(col(Outbox.status) == "pending", col(Outbox.not_before) <= now)
        .order_by(col(Outbox.not_before), col(Outbox.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.exec(stmt).scalars().first()  # type: ignore[call-overload, no-any-return]


def next_outbox_due(session: Session) -> datetime | None:
    return session.execute(
        select(func.min(Outbox.not_before)).where(col(Outbox.status) == "pending")
    ).scalar()


def last_sent_at(session: Session) -> datetime | None:
    value = session.execute(select(func.max(Outbox.sent_at))).scalar()
    return value


def sent_since(session: Session, *, since: datetime) -> int:
    return int(
        session.execute(select(func.count()).select_from(Outbox).where(col(Outbox.sent_at) >= since)).scalar()
        or 0
    )


def outbox_rows(session: Session, *, status: str | None = None) -> list[Outbox]:
    stmt = select(Outbox).order_by(col(Outbox.id))
    if status:
        stmt = stmt.where(col(Outbox.status) == status)
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def pending_requests_by_room(session: Session) -> dict[str, list[str]]:
    """Kinds of approval requests still waiting, per room."""
    from storage.models import ApprovalRequest

    out: dict[str, list[str]] = {}
    rows = session.execute(
        select(col(ApprovalRequest.room_id), col(ApprovalRequest.kind))
        .where(col(ApprovalRequest.status) == "pending")
        .order_by(col(ApprovalRequest.id))
    )
    for room_id, kind in rows:
        out.setdefault(room_id, []).append(kind)
    return out


def retained_room_ids(session: Session) -> set[str]:
    """Rooms a supervisor approved keeping (保留) despite their labels."""
    from storage.models import ApprovalRequest

    rows = session.scalars(
        select(col(ApprovalRequest.room_id)).where(
            col(ApprovalRequest.kind) == "retain", col(ApprovalRequest.status) == "approved"
        )
    )
    return set(rows)


def room_rows(
    session: Session,
    *,
    columns: Sequence[str],
    shared: Collection[str] = (),
    make: Callable[[list[Any]], _Row] = tuple,  # type: ignore[assignment]
) -> list[_Row]:
    """Every room as `make(values of the named columns)` (values as the ORM types give them), by id.

    No ORM instances: at 100k rooms the identity map and instance state cost about 2 KB a room.
    Dates and moments repeat (a township's end dates, batch enrolment): each column type converts
    a distinct stored value once, with its own result processor, and equal values come back as
    one shared object; so do equal values of the `shared` columns (string columns: ids, kinds,
    units…).
    """
    table = _table(Room)
    dialect = session.get_bind().dialect
    selected: list[Any] = []
    converted: list[tuple[int, Any, dict[Any, Any]]] = []  # (position, processor, its memo)
    memos: dict[type, tuple[Any, dict[Any, Any]]] = {}
    for i, name in enumerate(columns):
        column = table.c[name]
        kind = type(column.type)
        if not issubclass(kind, (UTCDateTime, Date, DateTime)):
            selected.append(column)
            continue
        if kind not in memos:
            memos[kind] = (column.type.dialect_impl(dialect).result_processor(dialect, None), {})
        processor, memo = memos[kind]
        selected.append(type_coerce(column, NullType()).label(name))  # the raw DBAPI value
        converted.append((i, processor, memo))
    strings: dict[Any, Any] = {}
    share = strings.setdefault
    same = [i for i, name in enumerate(columns) if name in shared]
    out: list[_Row] = []
    for row in session.execute(select(*selected).order_by(table.c.id)):
        values = list(row)
        for i, processor, memo in converted:
            raw = values[i]
            if raw is not None:
                value = memo.get(raw)
                if value is None:
                    value = memo[raw] = raw if processor is None else processor(raw)
                values[i] = value
        for i in same:
            v = values[i]
            if v is not None:
                values[i] = share(v, v)
        out.append(make(values))
    return out


def current_members_joined(session: Session, *, sep: str) -> Iterator[Any]:
    """(room_id, ids of its current members joined by `sep`): one row per room, not per member.

    `sep` must be a character no contact id contains (a control character).
    """
    ms = _table(Membership).c
    stmt = (
        select(ms.room_id, func.aggregate_strings(ms.contact_id, sep))
        .where(ms.left_at.is_(None))
        .group_by(ms.room_id)
    )
    yield from session.execute(stmt)


def activity_sums(session: Session, *, ranges: Sequence[tuple[date, date]]) -> Iterator[tuple[Any, ...]]:
    """Per room with activity rows on the days `ranges` cover, aggregated by the database:

    (room_id, then for each (start, end) of `ranges`: messages, after_hours and mention_all summed
    over the days start..end, 0 when none). Only the days from the earliest start to the latest
    end are read; a range spanning exactly those days is a plain sum (no CASE per row).
    """
    if not ranges:
        return
    first = min(start for start, _ in ranges)
    last = max(end for _, end in ranges)
    da = _table(DailyActivity).c
    sums = []
    for start, end in ranges:
        for column in (da.messages, da.after_hours, da.mention_all):
            if (start, end) == (first, last):
                sums.append(func.coalesce(func.sum(column), 0))
            else:
                inside = and_(da.day >= start, da.day <= end)
                sums.append(func.coalesce(func.sum(case((inside, column), else_=0)), 0))
    stmt = select(da.room_id, *sums).where(da.day >= first, da.day <= last).group_by(da.room_id)
    yield from session.execute(stmt)


def latest_activity_of_rooms_ahead(
    session: Session, *, first: date, last: date, now: datetime
) -> Iterator[tuple[Any, ...]]:
    """(room_id, latest last_at over the days first..last) for rooms whose last activity is after `now`.

    An audit as of a past date cannot use `Room.last_activity_at` for those; for every other room
    it is already the answer, since `record_activity` keeps it the latest of its rows' last_at.
    Usually no room qualifies, so this reads almost nothing.
    """
    da = _table(DailyActivity).c
    rc = _table(Room).c
    stmt = (
        select(da.room_id, func.max(da.last_at))
        .join(_table(Room), rc.id == da.room_id)
        .where(rc.last_activity_at > bindparam("now", now, type_=UTCDateTime()))
        .where(da.day >= first, da.day <= last)
        .group_by(da.room_id)
    )
    yield from session.execute(stmt)


# ---------------------------------------------------------------- digests and reminders (bot/digests.py)


def pending_approvals(session: Session) -> list[Any]:
    """Approval requests still waiting for a supervisor, oldest first."""
    from storage.models import ApprovalRequest

    stmt = (
        select(ApprovalRequest)
        .where(col(ApprovalRequest.status) == "pending")
        .order_by(col(ApprovalRequest.id))
    )
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def events_of_kind(session: Session, *, kind: str, since: datetime | None = None) -> list[EventLog]:
    stmt = select(EventLog).where(col(EventLog.kind) == kind).order_by(col(EventLog.id))
    if since is not None:
        stmt = stmt.where(col(EventLog.at) >= since)
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def outbox_status_by_key(session: Session, *, keys: Iterable[str]) -> dict[str, str]:
    """dedupe_key -> status for the given keys (missing keys are absent)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.execute(
        select(col(Outbox.dedupe_key), col(Outbox.status)).where(col(Outbox.dedupe_key).in_(wanted))
    )
    return {key: status for key, status in rows}


def failed_outbox_since(session: Session, *, since: datetime) -> list[Outbox]:
    stmt = (
        select(Outbox)
        .where(col(Outbox.status) == "failed", col(Outbox.created_at) >= since)
        .order_by(col(Outbox.id))
    )
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def all_units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).order_by(col(Unit.name))).scalars())  # type: ignore[call-overload]
