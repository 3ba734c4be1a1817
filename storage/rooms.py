"""Rooms and memberships: enrolment, members, topic and status, and the audit's bulk reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Date, DateTime, func, or_, select, type_coerce, update
from sqlalchemy.types import NullType
from sqlmodel import Session, col

from storage import history
from storage.db import in_chunks, table_of
from storage.models import (
    Membership,
    Room,
    TopicChange,
    UTCDateTime,
)

_Row = TypeVar("_Row")


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
    history.record_room(session, room=room, at=at)
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
    history.record_room(session, room=room, at=at)


def set_status(session: Session, *, room: Room, status: str, at: datetime) -> None:
    if room.status != status:
        room.status, room.status_at = status, at
        history.record_room(session, room=room, at=at)


def all_rooms(session: Session) -> list[Room]:
    return list(session.scalars(select(Room).order_by(Room.id)))


def room_rows(
    session: Session,
    *,
    columns: Sequence[str],
    shared: Collection[str] = (),
    make: Callable[[list[Any]], _Row] = tuple,  # type: ignore[assignment]
    room_ids: Collection[str] | None = None,
) -> list[_Row]:
    """Every room (or those of `room_ids`) as `make(values of the named columns)` (values as the
    ORM types give them), by id.

    No ORM instances: at 100k rooms the identity map and instance state cost about 2 KB a room.
    Dates and moments repeat (a township's end dates, batch enrolment): each column type converts
    a distinct stored value once, with its own result processor, and equal values come back as
    one shared object; so do equal values of the `shared` columns (string columns: ids, kinds,
    units…).
    """
    table = table_of(Room)
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
    stmt = select(*selected).order_by(table.c.id)
    # Chunks of sorted ids, each read in id order: the rows still come out by id.
    stmts = [stmt] if room_ids is None else [stmt.where(table.c.id.in_(c)) for c in in_chunks(room_ids)]
    for row in (row for one in stmts for row in session.execute(one)):
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


def current_members_joined(
    session: Session, *, sep: str, room_ids: Collection[str] | None = None
) -> Iterator[Any]:
    """(room_id, ids of its current members joined by `sep`): one row per room, not per member;
    only the rooms of `room_ids` when given.

    `sep` must be a character no contact id contains (a control character).
    """
    ms = table_of(Membership).c
    stmt = (
        select(ms.room_id, func.aggregate_strings(ms.contact_id, sep))
        .where(ms.left_at.is_(None))
        .group_by(ms.room_id)
    )
    if room_ids is None:
        yield from session.execute(stmt)
        return
    for chunk in in_chunks(room_ids):
        yield from session.execute(stmt.where(ms.room_id.in_(chunk)))


def active_members_of(session: Session, *, room_ids: Collection[str]) -> dict[str, list[str]]:
    """Current member ids of those of `room_ids` that are active (a room without members is left out)."""
    ms = table_of(Membership).c
    rc = table_of(Room).c
    out: dict[str, list[str]] = {}
    for chunk in in_chunks(room_ids):
        stmt = (
            select(ms.room_id, ms.contact_id)
            .join(table_of(Room), rc.id == ms.room_id)
            .where(ms.room_id.in_(chunk), ms.left_at.is_(None), rc.status == "active")
        )
        for room_id, contact_id in session.execute(stmt):
            out.setdefault(room_id, []).append(contact_id)
    return out


def membership_counts(session: Session, *, contact_ids: Collection[str]) -> dict[str, int]:
    """Membership rows per contact, current or closed: how common a person is across groups.

    Closed stays are counted too so the count reads the contact index alone; callers use it
    only to order people rarest first, where an approximate count does.
    """
    ms = table_of(Membership).c
    out: dict[str, int] = {}
    for chunk in in_chunks(contact_ids):
        stmt = select(ms.contact_id, func.count()).where(ms.contact_id.in_(chunk)).group_by(ms.contact_id)
        out.update((c, int(n)) for c, n in session.execute(stmt))
    return out


def active_rooms_with_members(session: Session, *, contact_ids: Collection[str]) -> set[str]:
    """Active rooms where any of `contact_ids` is a current member (found through the contact index)."""
    ms = table_of(Membership).c
    rc = table_of(Room).c
    out: set[str] = set()
    for chunk in in_chunks(contact_ids):
        stmt = (
            select(ms.room_id)
            .distinct()
            .join(table_of(Room), rc.id == ms.room_id)
            .where(ms.contact_id.in_(chunk), ms.left_at.is_(None), rc.status == "active")
        )
        out.update(session.scalars(stmt))
    return out


def active_room_count(session: Session) -> int:
    stmt = select(func.count()).select_from(Room).where(col(Room.status) == "active")
    return int(session.scalar(stmt) or 0)


def active_room_ids_in_units(session: Session, *, units: Collection[str | None]) -> list[str]:
    """Ids of the active rooms whose unit is one of `units` (None: rooms without a unit), by id."""
    named = [u for u in units if u is not None]
    where = [col(Room.unit).in_(chunk) for chunk in in_chunks(named)]
    if None in units:
        where.append(col(Room.unit).is_(None))
    if not where:
        return []
    stmt = select(col(Room.id)).where(col(Room.status) == "active", or_(*where)).order_by(col(Room.id))
    return list(session.scalars(stmt))


def managed_rooms(session: Session, *, contact_id: str) -> list[Room]:
    """Active rooms the contact owns, administers or invited the bot to; stable order
    (enrolment time, then id) so a list number means the same room between requests.

    Found through indexes, never by reading every room: the owner and inviter columns, and for
    administrators the rooms the contact is or was a member of (the room payload that names
    the administrators lists them among the members, and both are stored together).
    """
    needle = json.dumps(contact_id)
    ms = table_of(Membership).c
    theirs = select(ms.room_id).where(ms.contact_id == contact_id)
    found: dict[str, Room] = {}
    for where in (
        col(Room.owner_id) == contact_id,
        col(Room.enrolled_by) == contact_id,
        col(Room.id).in_(theirs) & col(Room.admin_ids).contains(needle),
    ):
        stmt = select(Room).where(col(Room.status) == "active", where)
        for r in session.exec(stmt).scalars():  # type: ignore[call-overload]
            found[r.id] = r
    rooms = [r for r in found.values() if is_manager(r, contact_id)]
    far = datetime.max.replace(tzinfo=None)
    return sorted(rooms, key=lambda r: ((r.enrolled_at.replace(tzinfo=None) if r.enrolled_at else far), r.id))


def admin_ids(room: Room) -> list[str]:
    try:
        value = json.loads(room.admin_ids or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def is_manager(room: Room, contact_id: str) -> bool:
    """Owner, admin, or the person who invited the bot."""
    return contact_id in (room.owner_id, room.enrolled_by) or contact_id in admin_ids(room)
