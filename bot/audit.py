"""Audit: storage rows -> policy facts -> verdicts -> contract 4.2 objects."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from policies.engine import burden, evaluate
from policies.model import Burden, DayActivity, RoomFacts, RoomVerdict
from policies.rules import Rules
from storage import repo
from storage.db import session_scope
from storage.models import DailyActivity, Room


@dataclass(frozen=True)
class AuditRow:
    room: Room
    facts: RoomFacts
    verdict: RoomVerdict
    messages_30d: int
    last_activity: datetime | None
    pending: tuple[str, ...]


def as_of(day: date, tz: ZoneInfo) -> datetime:
    """An audit 'at' a date means the end of that local day."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz).astimezone(UTC)


def load_facts(
    engine: Engine, now: datetime, tz: ZoneInfo, window_days: int = 90
) -> tuple[list[Room], list[RoomFacts], dict[str, list[DailyActivity]], dict[str, list[str]]]:
    """Read what the policies need in a handful of queries (no per-room queries)."""
    today = now.astimezone(tz).date()
    with session_scope(engine) as s:
        rooms = repo.all_rooms(s)
        members = repo.current_members_by_room(s)
        activity = repo.activity_since(s, since=today - timedelta(days=window_days))
        pending = repo.pending_requests_by_room(s)
    by_room: dict[str, list[DailyActivity]] = defaultdict(list)
    for a in activity:
        if a.day <= today:
            by_room[a.room_id].append(a)
    facts = []
    for r in rooms:
        days = by_room.get(r.id, [])
        last = max((a.last_at for a in days if a.last_at), default=None)
        if r.last_activity_at and r.last_activity_at <= now:
            last = max(last, r.last_activity_at) if last else r.last_activity_at
        facts.append(
            RoomFacts(
                room_id=r.id,
                topic=r.topic,
                owner_id=r.owner_id,
                status=r.status,  # type: ignore[arg-type]
                kind=r.kind,  # type: ignore[arg-type]
                end_date=r.end_date,
                approved=r.approved,
                enrolled_at=r.enrolled_at or now,
                member_ids=frozenset(members.get(r.id, ())),
                registered_at=r.registered_at,
                created_on=r.created_on,
                last_activity=last,
                daily=tuple(
                    DayActivity(a.day, a.messages, a.after_hours, a.mention_all, a.distinct_senders)
                    for a in days
                ),
                unit=r.unit,
            )
        )
    return rooms, facts, by_room, pending


def run_audit(
    engine: Engine, rules: Rules, now: datetime, tz: ZoneInfo
) -> tuple[list[AuditRow], list[Burden]]:
    rooms, facts, by_room, pending = load_facts(engine, now, tz)
    verdicts = evaluate(facts, rules, now)
    today = now.astimezone(tz).date()
    rows = []
    for room, f, v in zip(rooms, facts, verdicts, strict=True):
        recent = sum(a.messages for a in by_room.get(room.id, []) if a.day > today - timedelta(days=30))
        rows.append(AuditRow(room, f, v, recent, f.last_activity, tuple(pending.get(room.id, ()))))
    return rows, burden(facts, verdicts)


def row_json(row: AuditRow, tz: ZoneInfo) -> dict[str, Any]:
    r = row.room
    return {
        "room_id": r.id,
        "topic": r.topic,
        "owner_id": r.owner_id,
        "status": r.status,
        "kind": r.kind,
        "end_date": r.end_date.isoformat() if r.end_date else None,
        "unit": r.unit,
        "member_count": r.member_count,
        "messages_30d": row.messages_30d,
        "last_activity": row.last_activity.astimezone(tz).isoformat() if row.last_activity else None,
        "labels": [{"code": lb.code, "action": lb.action, "reason": lb.reason} for lb in row.verdict.labels],
        "pending": list(row.pending),
        "enrolled_at": r.enrolled_at.astimezone(tz).isoformat() if r.enrolled_at else None,
    }


def audit_json(rows: list[AuditRow], tz: ZoneInfo) -> str:
    return json.dumps([row_json(r, tz) for r in rows], ensure_ascii=False, indent=2)
