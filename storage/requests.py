"""Queries for chat commands: the command log, approval requests, rooms a person manages, units.

Keyword-only like `storage.repo`; the caller owns the session.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from storage.models import ApprovalRequest, CommandLog, Contact, DailyActivity, Room, Unit

# ---------------------------------------------------------------- command log


def log_command(
    session: Session,
    *,
    at: datetime,
    sender_id: str,
    room_id: str | None,
    command: str,
    args: Mapping[str, Any],
    outcome: str,
    reason: str = "",
) -> CommandLog:
    row = CommandLog(
        at=at,
        sender_id=sender_id,
        room_id=room_id,
        command=command,
        args=json.dumps(dict(args), ensure_ascii=False, default=str, sort_keys=True),
        outcome=outcome,
        reason=reason,
    )
    session.add(row)
    return row


def commands_since(session: Session, *, sender_id: str, since: datetime, until: datetime) -> int:
    """Commands logged for a sender in (since, until] — the rate limiter's window."""
    return int(
        session.execute(
            select(func.count())
            .select_from(CommandLog)
            .where(
                col(CommandLog.sender_id) == sender_id,
                col(CommandLog.at) > since,
                col(CommandLog.at) <= until,
            )
        ).scalar()
        or 0
    )


def commands_at(session: Session, *, sender_id: str, room_id: str | None, at: datetime) -> int:
    """Commands already logged for this sender and conversation at exactly this message time."""
    stmt = (
        select(func.count())
        .select_from(CommandLog)
        .where(col(CommandLog.sender_id) == sender_id, col(CommandLog.at) == at)
    )
    stmt = stmt.where(
        col(CommandLog.room_id).is_(None) if room_id is None else col(CommandLog.room_id) == room_id
    )
    return int(session.execute(stmt).scalar() or 0)


def command_log(session: Session) -> list[CommandLog]:
    return list(session.exec(select(CommandLog).order_by(col(CommandLog.id))).scalars())  # type: ignore[call-overload]


# ---------------------------------------------------------------- people and units


def get_contact(session: Session, *, contact_id: str | None) -> Contact | None:
    return None if contact_id is None else session.get(Contact, contact_id)


def contact_name(session: Session, *, contact_id: str | None) -> str:
    c = get_contact(session, contact_id=contact_id)
    return (c.name or c.id) if c is not None else (contact_id or "")


def has_units(session: Session) -> bool:
    return session.execute(select(func.count()).select_from(Unit)).scalar() != 0


def get_unit(session: Session, *, name: str) -> Unit | None:
    return session.get(Unit, name)


def unit_chain(session: Session, *, unit: str) -> list[str]:
    """The unit and its ancestors, nearest first (cycle-safe)."""
    out: list[str] = []
    cur: str | None = unit
    while cur is not None and cur not in out:
        out.append(cur)
        row = session.get(Unit, cur)
        cur = row.parent if row is not None else None
    return out


def supervisors(session: Session) -> list[Contact]:
    return list(
        session.exec(  # type: ignore[call-overload]
            select(Contact).where(col(Contact.role) == "supervisor").order_by(col(Contact.id))
        ).scalars()
    )


# ---------------------------------------------------------------- rooms


def managed_rooms(session: Session, *, contact_id: str) -> list[Room]:
    """Active rooms the contact owns, administers or invited the bot to; stable order
    (enrolment time, then id) so a list number means the same room between requests."""
    needle = json.dumps(contact_id)
    rows = session.exec(  # type: ignore[call-overload]
        select(Room).where(
            col(Room.status) == "active",
            or_(
                col(Room.owner_id) == contact_id,
                col(Room.enrolled_by) == contact_id,
                col(Room.admin_ids).contains(needle),
            ),
        )
    ).scalars()
    rooms = [r for r in rows if is_manager(r, contact_id)]
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


# ---------------------------------------------------------------- approval requests


def create_request(
    session: Session,
    *,
    room_id: str,
    kind: str,
    requested_by: str,
    at: datetime,
    payload: Mapping[str, Any],
) -> ApprovalRequest:
    req = ApprovalRequest(
        room_id=room_id,
        kind=kind,
        requested_by=requested_by,
        requested_at=at,
        payload=json.dumps(dict(payload), ensure_ascii=False, default=str),
        status="pending",
    )
    session.add(req)
    session.flush()
    return req


def get_request(session: Session, *, request_id: int) -> ApprovalRequest | None:
    return session.get(ApprovalRequest, request_id)


def request_payload(req: ApprovalRequest) -> dict[str, Any]:
    try:
        value = json.loads(req.payload or "{}")
    except ValueError:
        return {}
    return dict(value) if isinstance(value, dict) else {}


def pending_for_room(session: Session, *, room_id: str, kind: str | None = None) -> list[ApprovalRequest]:
    stmt = select(ApprovalRequest).where(
        col(ApprovalRequest.room_id) == room_id, col(ApprovalRequest.status) == "pending"
    )
    if kind is not None:
        stmt = stmt.where(col(ApprovalRequest.kind) == kind)
    return list(session.exec(stmt.order_by(col(ApprovalRequest.id))).scalars())  # type: ignore[call-overload]


def pending_requests(session: Session) -> list[ApprovalRequest]:
    stmt = select(ApprovalRequest).where(col(ApprovalRequest.status) == "pending")
    return list(session.exec(stmt.order_by(col(ApprovalRequest.id))).scalars())  # type: ignore[call-overload]


def decide_request(
    session: Session, *, req: ApprovalRequest, status: str, by: str, at: datetime, reason: str | None
) -> None:
    req.status, req.decided_by, req.decided_at, req.decision_reason = status, by, at, reason
