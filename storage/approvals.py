"""Approval requests (常设, 延期, 保留) and the command log (parsed fields only)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from storage.db import in_chunks
from storage.models import (
    ApprovalRequest,
    CommandLog,
)


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


def refusals_sent(
    session: Session, *, room_id: str, since: datetime, until: datetime, sender_id: str | None = None
) -> int:
    """Refusals (and 帮助 answers) sent in a room in [since, until], optionally to one sender.

    Suppressed refusals (reason `suppressed:…`) and the once-a-day hints (their own dedupe
    keys keep them to one a day) are not counted.
    """
    stmt = (
        select(func.count())
        .select_from(CommandLog)
        .where(
            col(CommandLog.room_id) == room_id,
            or_(col(CommandLog.outcome) == "refused", col(CommandLog.command) == "help"),
            col(CommandLog.at) >= since,
            col(CommandLog.at) <= until,
            col(CommandLog.reason).not_like("suppressed:%"),
            col(CommandLog.reason).not_in(("not_a_command", "not_mentioned")),
        )
    )
    if sender_id is not None:
        stmt = stmt.where(col(CommandLog.sender_id) == sender_id)
    return int(session.execute(stmt).scalar() or 0)


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


def pending_requests_by_room(
    session: Session, *, room_ids: Collection[str] | None = None
) -> dict[str, list[str]]:
    """Kinds of approval requests still waiting, per room (only `room_ids` when given)."""
    out: dict[str, list[str]] = {}
    stmt = (
        select(col(ApprovalRequest.room_id), col(ApprovalRequest.kind))
        .where(col(ApprovalRequest.status) == "pending")
        .order_by(col(ApprovalRequest.id))
    )
    for chunk in [None] if room_ids is None else in_chunks(room_ids):
        scoped = stmt if chunk is None else stmt.where(col(ApprovalRequest.room_id).in_(chunk))
        for room_id, kind in session.execute(scoped):
            out.setdefault(room_id, []).append(kind)
    return out


def retained_room_ids(session: Session, *, room_ids: Collection[str] | None = None) -> set[str]:
    """Rooms a supervisor approved keeping (保留) despite their labels (among `room_ids` when given)."""
    stmt = select(col(ApprovalRequest.room_id)).where(
        col(ApprovalRequest.kind) == "retain", col(ApprovalRequest.status) == "approved"
    )
    out: set[str] = set()
    for chunk in [None] if room_ids is None else in_chunks(room_ids):
        scoped = stmt if chunk is None else stmt.where(col(ApprovalRequest.room_id).in_(chunk))
        out.update(session.scalars(scoped))
    return out
