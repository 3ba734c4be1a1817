"""The event log: what happened to a room and when (enrolments, joins, topic changes, digests listed)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session, col

from storage.models import (
    EventLog,
)


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


def log_events(session: Session, events: Sequence[Mapping[str, Any]]) -> None:
    """Many events in one executemany (a digest round logs thousands); keys as for `log_event`."""
    if not events:
        return
    rows = [
        {
            "kind": e["kind"],
            "at": e["at"],
            "room_id": e.get("room_id"),
            "actor_id": e.get("actor_id"),
            "subjects": json.dumps(list(e.get("subjects", ())), ensure_ascii=False),
            "detail": json.dumps(dict(e.get("detail") or {}), ensure_ascii=False, default=str),
        }
        for e in events
    ]
    session.connection().execute(insert(EventLog.__table__), rows)  # type: ignore[attr-defined]


def events_of_kind(session: Session, *, kind: str, since: datetime | None = None) -> list[EventLog]:
    stmt = select(EventLog).where(col(EventLog.kind) == kind).order_by(col(EventLog.id))
    if since is not None:
        stmt = stmt.where(col(EventLog.at) >= since)
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]
