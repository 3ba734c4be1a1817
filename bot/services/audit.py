"""Audit: storage rows -> policy facts -> verdicts -> the `qingqun audit --json` objects."""

from __future__ import annotations

import gc
import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from policies.duplicates import probe_members
from policies.engine import activity_windows, burden, evaluate
from policies.members import Memberships, MembershipsBuilder
from policies.model import Burden, RoomFacts, RoomVerdict, WindowTotals
from policies.rules import Rules
from storage import activity as activity_db
from storage import approvals as approvals_db
from storage import past as past_db
from storage import rooms as rooms_db
from storage.db import session_scope


class AuditRoom(NamedTuple):
    """A room as the audit read it: every column of `storage.models.Room`, as plain values.

    Read as Core rows rather than ORM objects (about 2 KB less per room at 100k rooms); it is a
    snapshot for reports and digests, not something to change and commit. A named tuple: built
    from a row in one step (a frozen dataclass sets its 21 fields one by one).
    """

    id: str
    topic: str
    owner_id: str | None
    status: str
    status_at: datetime | None
    enrolled_at: datetime | None
    enrolled_by: str | None
    created_on: date | None
    member_count: int
    admin_ids: str
    kind: str | None
    end_date: date | None
    original_end_date: date | None
    extension_count: int
    purpose: str | None
    unit: str | None
    registered_by: str | None
    registered_at: datetime | None
    approved: bool
    claimed_dissolved_at: datetime | None
    last_activity_at: datetime | None


_ROOM_COLUMNS = AuditRoom._fields
_SHARED_COLUMNS = frozenset(
    {"owner_id", "status", "enrolled_by", "admin_ids", "kind", "unit", "registered_by", "topic"}
)


@dataclass(frozen=True, slots=True)
class AuditRow:
    room: AuditRoom
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
    engine: Engine,
    rules: Rules,
    now: datetime,
    tz: ZoneInfo,
    window_days: int = 90,
    *,
    room_ids: Collection[str] | None = None,
) -> tuple[list[AuditRoom], list[RoomFacts], Memberships, dict[str, int], dict[str, list[str]]]:
    """Read what the policies need in a handful of queries (no per-room queries).

    With `room_ids`, only those rooms and every room that could be a duplicate of one of them
    (`duplicate_candidates`), read in the same transaction: what `evaluate` needs to label
    those rooms exactly as it would among all rooms.

    Returns the rooms, their facts (same order), their memberships as codes (same order),
    messages over the last 30 local days per room and pending request kinds per room. Activity
    is summed by the database over exactly the windows the engine asks for
    (`policies.engine.activity_windows`), on the days of the last `window_days` days stored, so
    facts carry WindowTotals and no per-day rows. The last activity
    is the room's own column, unless the audit is as of a moment before it. Memberships come
    as one joined string per room and become codes as they are read; each fact's member ids
    are a view of them (`policies.members.RoomMembers`).
    """
    today = now.astimezone(tz).date()  # the calendar the days are stored in
    since = today - timedelta(days=window_days)
    engine_today = now.astimezone(rules.tz).date()  # the engine's "today"

    def clip(first: date, last: date) -> tuple[date, date]:
        return max(first, since), min(last, today)

    windows = sorted(activity_windows(rules))
    wanted = {d: clip(engine_today - timedelta(days=d - 1), engine_today) for d in windows}
    recent = clip(today - timedelta(days=29), today)
    ranges = list(dict.fromkeys([*wanted.values(), recent]))
    at = {r: 3 * i for i, r in enumerate(ranges)}  # where a range's three sums start in `sums`
    window_at = [(d, at[wanted[d]]) for d in windows]
    recent_at = at[recent]

    read_at: dict[str, int] = {}  # room id -> its position in `read`
    with session_scope(engine) as s:
        # When something changed after `now`, today's rows are not the rooms as they were then:
        # read them from the history instead (slower, and only for audits of past days), whole:
        # duplicate candidates come from today's memberships, which may not be the past's.
        past = past_db.changed_after(s, at=now)
        scope = None if room_ids is None or past else set(room_ids) | duplicate_candidates(s, rules, room_ids)
        if past:
            pending = past_db.pending_requests_as_of(s, at=now)
            retained = past_db.retained_as_of(s, at=now)
            rooms = past_db.room_rows_as_of(
                s, at=now, columns=_ROOM_COLUMNS, shared=_SHARED_COLUMNS, make=AuditRoom._make
            )
        else:
            pending = approvals_db.pending_requests_by_room(s, room_ids=scope)
            retained = approvals_db.retained_room_ids(s, room_ids=scope)
            # Contact ids, status, kind, unit…: few distinct values, one string object each.
            rooms = rooms_db.room_rows(
                s, columns=_ROOM_COLUMNS, shared=_SHARED_COLUMNS, make=AuditRoom._make, room_ids=scope
            )
        # Contact ids become dense codes, straight into an array. Township by township: a
        # township's groups share their people, so their codes are still in the CPU's caches
        # from the last group (at 100k groups, 0.5 s instead of 1.5 s in rooms' id order).
        unit_of = {r.id: r.unit or "" for r in rooms}
        joined_rows = (
            past_db.members_joined_as_of(s, at=now, sep=_SEP)
            if past
            else list(rooms_db.current_members_joined(s, sep=_SEP, room_ids=scope))
        )
        joined_rows.sort(key=lambda row: unit_of.get(row[0], ""))
        builder = MembershipsBuilder()
        add = builder.add
        for room_id, joined in joined_rows:
            read_at[room_id] = add(joined.split(_SEP))
        del joined_rows
        read = builder.build()
        del builder
        totals: dict[str, tuple[Any, ...]] = {
            row[0]: tuple(row[1:]) for row in activity_db.activity_sums(s, ranges=ranges, room_ids=scope)
        }
        ahead = dict(
            activity_db.latest_activity_of_rooms_ahead(s, first=since, last=today, now=now, room_ids=scope)
        )
    members = read.take([read_at.get(r.id, -1) for r in rooms]).distinct()
    del read, read_at
    facts = []
    recent_messages: dict[str, int] = {}
    # Many rooms have the same sums (quiet rooms above all): one WindowTotals tuple per value.
    same_windows: dict[tuple[Any, ...], tuple[WindowTotals, ...]] = {}
    for i, r in enumerate(rooms):
        sums = totals.pop(r.id, None)
        room_windows: tuple[WindowTotals, ...] = ()
        if sums is not None:
            room_windows = same_windows.get(sums) or same_windows.setdefault(
                sums,
                tuple(WindowTotals(engine_today, d, sums[i], sums[i + 1], sums[i + 2]) for d, i in window_at),
            )
            recent_messages[r.id] = sums[recent_at]
        # The room's recorded last activity is the latest of its activity rows; an audit as of an
        # earlier moment takes the latest of the rows up to its day instead.
        last: datetime | None = None
        if r.last_activity_at is not None and r.last_activity_at <= now:
            last = r.last_activity_at
        else:
            last = ahead.get(r.id)
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
                member_ids=members.room(i),
                registered_at=r.registered_at,
                created_on=r.created_on,
                last_activity=last,
                unit=r.unit,
                retained=r.id in retained,
                windows=room_windows,
            )
        )
    return rooms, facts, members, recent_messages, pending


def duplicate_candidates(session: Session, rules: Rules, room_ids: Collection[str]) -> set[str]:
    """Active rooms that could be a duplicate of one of `room_ids`, found through the member index.

    A partner holds one of the room's rarest few members (`policies.duplicates.probe_members`),
    so only the rooms of those members are read: a handful per room however many rooms there
    are, since people common to many groups (county staff) are the last ones taken.
    """
    r = rules.duplicate
    members = rooms_db.active_members_of(session, room_ids=room_ids)
    if not members:
        return set()
    rarity = rooms_db.membership_counts(session, contact_ids={m for ids in members.values() for m in ids})
    probes: set[str] = set()
    for ids in members.values():
        probes.update(probe_members(ids, threshold=r.jaccard, min_members=r.min_members, rarity=rarity))
    return rooms_db.active_rooms_with_members(session, contact_ids=probes) if probes else set()


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the audit builds its millions of acyclic objects.

    Each collection would walk every container built so far (at 100k groups about a fifth of
    the audit's time) and find nothing: nothing the audit builds refers back to itself.
    Reference counting still frees everything as usual; the collector's state is restored after.

    Re-enabling alone would only postpone the walk: the first allocation after it collects the
    youngest generation, which then holds every object the audit built (about 0.4 s at 100k).
    So they are first moved to the oldest generation, in constant time (freeze, then unfreeze),
    where only a full collection looks at them, and only those still alive by then. Skipped when
    the process keeps objects frozen on purpose (before a fork, say): unfreeze would thaw them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def run_audit(
    engine: Engine, rules: Rules, now: datetime, tz: ZoneInfo
) -> tuple[list[AuditRow], list[Burden]]:
    with _cyclic_gc_paused():
        rooms, facts, members, recent, pending = load_facts(engine, rules, now, tz)
        verdicts = evaluate(facts, rules, now, members=members)
        rows = [
            AuditRow(room, f, v, recent.get(room.id, 0), f.last_activity, tuple(pending.get(room.id, ())))
            for room, f, v in zip(rooms, facts, verdicts, strict=True)
        ]
        return rows, burden(facts, verdicts, members=members)


_MANY = 1000  # rooms asked about before a full audit may be the cheaper way


def evaluate_rooms(
    engine: Engine, rules: Rules, now: datetime, tz: ZoneInfo, room_ids: Collection[str]
) -> dict[str, AuditRow]:
    """The rows `run_audit` would give for `room_ids` at `now`, at a cost in proportion to them.

    Each room's labels depend on other rooms only through the duplicate check, so these rooms
    are evaluated together with their possible duplicates and nothing else. When they are most
    of the active rooms, a full audit is cheaper than finding the candidates (only counted for
    many rooms: counting reads the whole table).
    """
    wanted = set(room_ids)
    if not wanted:
        return {}
    most = False
    if len(wanted) >= _MANY:
        with session_scope(engine) as s:
            most = 2 * len(wanted) > rooms_db.active_room_count(s)
    if most:
        rows, _ = run_audit(engine, rules, now, tz)
        return {row.room.id: row for row in rows if row.room.id in wanted}
    rooms, facts, members, recent, pending = load_facts(engine, rules, now, tz, room_ids=wanted)
    verdicts = evaluate(facts, rules, now, members=members)
    return {
        room.id: AuditRow(
            room, f, v, recent.get(room.id, 0), f.last_activity, tuple(pending.get(room.id, ()))
        )
        for room, f, v in zip(rooms, facts, verdicts, strict=True)
        if room.id in wanted
    }


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
