"""Audit: storage rows -> policy facts -> verdicts -> contract 4.2 objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from policies.engine import burden, evaluate
from policies.model import Burden, DayActivity, RoomFacts, RoomVerdict
from policies.rules import Rules
from storage import repo
from storage.db import session_scope
from storage.models import DailyActivity, Membership, Room


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


_SEP = "\x1f"


def load_facts(
    engine: Engine, now: datetime, tz: ZoneInfo, window_days: int = 90
) -> tuple[list[Room], list[RoomFacts], dict[str, list[DayActivity]], dict[str, list[str]]]:
    """Read what the policies need in a handful of queries (no per-room queries).

    Memberships and activity are read as plain column tuples rather than ORM objects: at 100k
    groups that is millions of rows, and ORM instances (identity map, state) cost several times
    the time and memory. Contact ids are shared between rooms so each id is one string object.
    """
    today = now.astimezone(tz).date()
    since = today - timedelta(days=window_days)
    da = DailyActivity.__table__.c  # type: ignore[attr-defined]
    ms = Membership.__table__.c  # type: ignore[attr-defined]
    with session_scope(engine) as s:
        rooms = repo.all_rooms(s)
        pending = repo.pending_requests_by_room(s)
        retained = repo.retained_room_ids(s)
        # One row per room with its current members joined into one string: a few thousand
        # rows instead of millions. WeChat ids never contain the separator (a control character).
        members: dict[str, list[str]] = {}
        canon: dict[str, str] = {}
        intern = canon.setdefault
        current = (
            select(ms.room_id, func.aggregate_strings(ms.contact_id, _SEP))
            .where(ms.left_at.is_(None))
            .group_by(ms.room_id)
        )
        for room_id, joined in s.execute(current).all():
            members[room_id] = [intern(c, c) for c in joined.split(_SEP)]
        in_window = (da.day >= since, da.day <= today)
        by_room: dict[str, list[DayActivity]] = {}
        day_objects: dict[date, date] = {}  # one date object per day, not one per row
        days = select(da.room_id, da.day, da.messages, da.after_hours, da.mention_all, da.distinct_senders)
        result = s.execute(days.where(*in_window).execution_options(yield_per=20_000))
        for room_id, day, messages, after_hours, mention_all, distinct in result:
            day_list = by_room.get(room_id)
            if day_list is None:
                day_list = by_room[room_id] = []
            day = day_objects.setdefault(day, day)
            day_list.append(DayActivity(day, messages, after_hours, mention_all, distinct))
        # The latest message time per room over the same days, aggregated by the database.
        latest = select(da.room_id, func.max(da.last_at).label("last_at")).where(*in_window)
        last_by_room: dict[str, datetime] = {
            room_id: last_at
            for room_id, last_at in s.execute(latest.group_by(da.room_id)).all()
            if last_at is not None
        }
    del canon
    facts = []
    for r in rooms:
        last = last_by_room.get(r.id)
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
                member_ids=frozenset(members.pop(r.id, ())),
                registered_at=r.registered_at,
                created_on=r.created_on,
                last_activity=last,
                daily=tuple(by_room.get(r.id, ())),
                unit=r.unit,
                retained=r.id in retained,
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
