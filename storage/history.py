"""Room history, the recording half: each change of a room's status, topic and registration.
(storage/past.py reads rooms, members and requests as they were at a past moment.)

Recording is deferred to the flush: `record_room` marks a room as changed at a moment, and the
snapshot written is the room as it stands when the session flushes, so fields set after the call
in the same unit of work (the owner's unit filled in after enrolment, say) are part of it. A row
is written only when a recorded field differs from the room's latest row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import event, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col

from storage.models import Room, RoomHistory

_Row = TypeVar("_Row")

# The room fields an audit of a past day takes from the history (the rest are today's values:
# the creation date and enrolment, admins, the claim of dissolution if made by then).
TRACKED: tuple[str, ...] = (
    "topic",
    "owner_id",
    "status",
    "status_at",
    "kind",
    "end_date",
    "original_end_date",
    "extension_count",
    "purpose",
    "unit",
    "registered_by",
    "registered_at",
    "approved",
)

_PENDING = "qingqun.history.pending"  # session.info key: room id -> (room, moment)
_LAST = "qingqun.history.last"  # session.info key: room id -> values of its latest row


def _values(room: Room | RoomHistory) -> tuple[Any, ...]:
    return tuple(getattr(room, name) for name in TRACKED)


def record_room(session: Session, *, room: Room | None, at: datetime) -> None:
    """Note that `room` changed at `at`; its snapshot is written at the next flush if it differs.

    None (a room that does not exist) is accepted so callers need no test of their own.
    """
    if room is None:
        return
    pending: dict[str, tuple[Room, datetime]] = session.info.setdefault(_PENDING, {})
    pending[room.id] = (room, at)


def _latest_values(session: Session, room_id: str) -> tuple[Any, ...] | None:
    last: dict[str, tuple[Any, ...] | None] = session.info.setdefault(_LAST, {})
    if room_id not in last:
        with session.no_autoflush:
            row = session.execute(
                select(RoomHistory)
                .where(col(RoomHistory.room_id) == room_id)
                .order_by(col(RoomHistory.at).desc(), col(RoomHistory.id).desc())
                .limit(1)
            ).scalar_one_or_none()
        last[room_id] = None if row is None else _values(row)
    return last[room_id]


@event.listens_for(OrmSession, "before_flush")
def _write_snapshots(session: OrmSession, _context: Any, _instances: Any) -> None:
    pending: dict[str, tuple[Room, datetime]] | None = session.info.get(_PENDING)
    if not pending:
        return
    assert isinstance(session, Session)
    last: dict[str, tuple[Any, ...] | None] = session.info.setdefault(_LAST, {})
    for room_id, (room, at) in pending.items():
        values = _values(room)
        if _latest_values(session, room_id) == values:
            continue
        session.add(RoomHistory(room_id=room_id, at=at, **dict(zip(TRACKED, values, strict=True))))
        last[room_id] = values
    # Kept until the transaction ends: a later flush writes again only what changed since.


def _forget(session: OrmSession, *_: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_LAST, None)


event.listen(OrmSession, "after_commit", _forget)
event.listen(OrmSession, "after_soft_rollback", _forget)
