"""The past: rooms, members and requests as they were at a moment, from the room history
(storage/history.py records it), the membership stays and the request decisions."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from storage import rooms as rooms_db
from storage.history import TRACKED
from storage.models import ApprovalRequest, EventLog, Membership, RoomHistory, TopicChange

_Row = TypeVar("_Row")


def changed_after(session: Session, *, at: datetime) -> bool:
    """Whether any room, membership or request changed after `at` (an audit then reads history).

    Each test is an index lookup; events cover changes made without a history row (rooms
    written before the history existed, or by code that does not record it).
    """
    checks = (
        select(func.max(col(RoomHistory.at))),
        select(func.max(col(Membership.joined_at))),
        select(func.max(col(Membership.left_at))),
        select(func.max(col(EventLog.at))),
        select(func.max(col(ApprovalRequest.requested_at))),
        select(func.max(col(ApprovalRequest.decided_at))),
    )
    for stmt in checks:
        latest = session.execute(stmt).scalar()
        if latest is not None and latest > at:
            return True
    return False


def _latest_rows(session: Session, *, at: datetime) -> dict[str, dict[str, Any]]:
    """room id -> its tracked values in its latest history row at or before `at`."""
    h = RoomHistory
    latest = (
        select(
            col(h.id),
            func.row_number()
            .over(partition_by=col(h.room_id), order_by=(col(h.at).desc(), col(h.id).desc()))
            .label("n"),
        )
        .where(col(h.at) <= at)
        .subquery()
    )
    stmt = (
        select(col(h.room_id), *(getattr(h, name) for name in TRACKED))
        .join(latest, latest.c.id == col(h.id))
        .where(latest.c.n == 1)
    )
    return {row[0]: dict(zip(TRACKED, row[1:], strict=True)) for row in session.execute(stmt)}


def rooms_with_history(session: Session) -> set[str]:
    return set(session.scalars(select(col(RoomHistory.room_id)).distinct()))


def room_rows_as_of(
    session: Session,
    *,
    at: datetime,
    columns: Sequence[str],
    shared: Collection[str] = (),
    make: Callable[[list[Any]], _Row] = tuple,  # type: ignore[assignment]
) -> list[_Row]:
    """`rooms_db.room_rows` as the rooms were at `at`: the same row shape, by id.

    A room with history rows is present when one is at or before `at`, with that row's values;
    a room with none (written before the history existed) is present when it was enrolled by
    then, with today's values. The member count is that of the memberships open at `at`.
    """
    names = list(columns)
    rows: list[list[Any]] = rooms_db.room_rows(session, columns=names, shared=shared, make=list)
    past = _latest_rows(session, at=at)
    known = rooms_with_history(session)
    counts = members_count_as_of(session, at=at)
    pos = {name: i for i, name in enumerate(names)}
    out: list[_Row] = []
    for values in rows:
        room_id = values[pos["id"]] if "id" in pos else None
        then = past.get(room_id) if room_id is not None else None
        if then is None:
            enrolled = values[pos["enrolled_at"]] if "enrolled_at" in pos else None
            if room_id in known or (enrolled is not None and enrolled > at):
                continue
        else:
            for name, value in then.items():
                if name in pos:
                    values[pos[name]] = value
        if "member_count" in pos and room_id is not None:
            values[pos["member_count"]] = counts.get(room_id, 0)
        if "claimed_dissolved_at" in pos:
            claimed = values[pos["claimed_dissolved_at"]]
            if claimed is not None and claimed > at:
                values[pos["claimed_dissolved_at"]] = None
        out.append(make(values))
    return out


def _open_at(at: datetime) -> Any:
    ms = Membership
    return (col(ms.joined_at) <= at) & or_(col(ms.left_at).is_(None), col(ms.left_at) > at)


def members_count_as_of(session: Session, *, at: datetime) -> dict[str, int]:
    stmt = (
        select(col(Membership.room_id), func.count(func.distinct(col(Membership.contact_id))))
        .where(_open_at(at))
        .group_by(col(Membership.room_id))
    )
    return {room_id: int(n) for room_id, n in session.execute(stmt)}


def members_joined_as_of(session: Session, *, at: datetime, sep: str) -> list[tuple[str, str]]:
    """`rooms_db.current_members_joined` as of `at`: (room_id, its members then joined by `sep`)."""
    return [(room_id, sep.join(sorted(ids))) for room_id, ids in members_as_of(session, at=at).items()]


def members_as_of(
    session: Session, *, at: datetime, room_ids: Iterable[str] | None = None
) -> dict[str, frozenset[str]]:
    """room id -> the contacts who were members at `at` (rooms with none are absent)."""
    stmt = select(col(Membership.room_id), col(Membership.contact_id)).where(_open_at(at))
    if room_ids is not None:
        wanted = sorted(set(room_ids))
        if not wanted:
            return {}
        stmt = stmt.where(col(Membership.room_id).in_(wanted))
    out: dict[str, set[str]] = {}
    for room_id, contact_id in session.execute(stmt):
        out.setdefault(room_id, set()).add(contact_id)
    return {room_id: frozenset(ids) for room_id, ids in out.items()}


def pending_requests_as_of(session: Session, *, at: datetime) -> dict[str, list[str]]:
    """`rooms_db.pending_requests_by_room` as of `at`: asked by then, not decided by then."""
    ar = ApprovalRequest
    stmt = (
        select(col(ar.room_id), col(ar.kind))
        .where(col(ar.requested_at) <= at)
        .where(or_(col(ar.decided_at).is_(None), col(ar.decided_at) > at))
        .order_by(col(ar.id))
    )
    out: dict[str, list[str]] = {}
    for room_id, kind in session.execute(stmt):
        out.setdefault(room_id, []).append(kind)
    return out


def retained_as_of(session: Session, *, at: datetime) -> set[str]:
    """`rooms_db.retained_room_ids` as of `at`: retention approved by then."""
    ar = ApprovalRequest
    stmt = select(col(ar.room_id)).where(
        col(ar.kind) == "retain", col(ar.status) == "approved", col(ar.decided_at) <= at
    )
    return set(session.scalars(stmt))


def topic_changes(session: Session, *, after: datetime, until: datetime) -> dict[str, tuple[str, datetime]]:
    """room id -> (its topic before its first change in (after, until], the moment of that change)."""
    tc = TopicChange
    stmt = (
        select(col(tc.room_id), col(tc.old_topic), col(tc.at))
        .where(col(tc.at) > after, col(tc.at) <= until)
        .order_by(col(tc.at), col(tc.id))
    )
    out: dict[str, tuple[str, datetime]] = {}
    for room_id, old, at in session.execute(stmt):
        out.setdefault(room_id, (old, at))
    return out


def approvals_as_of(
    session: Session, *, at: datetime, kinds: Collection[str]
) -> dict[tuple[str, str], tuple[str | None, datetime | None]]:
    """(room id, request kind) -> (who approved, when) for the latest request of that kind
    approved by `at` (the approver and date a 备案表 shows)."""
    ar = ApprovalRequest
    stmt = (
        select(col(ar.room_id), col(ar.kind), col(ar.decided_by), col(ar.decided_at))
        .where(col(ar.status) == "approved", col(ar.decided_at) <= at, col(ar.kind).in_(sorted(kinds)))
        .order_by(col(ar.decided_at), col(ar.id))
    )
    return {(room_id, kind): (by, when) for room_id, kind, by, when in session.execute(stmt)}
