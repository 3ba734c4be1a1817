"""Ingest benchmark: the project's recording path against a minimal dict + sqlite3 baseline.

    .venv/bin/python benchmarks/ingest.py [--events N] [--check]

Both sides get the same pre-generated, time-ordered list of synthetic message events (generation is
outside both timings) and write the same aggregates into a fresh SQLite file each:

* project: `ActivityRecorder.record()` for every event, with `take()` + `write()` (what
  `bot.cli.run._flush_loop` does) every `flush_interval` seconds of wall-clock time, the live loop's
  cadence (Settings default 1.0 s), plus a final `flush()`. The write runs inline rather than in a
  thread, so its cost is counted in full.
* baseline: plain dict counters, then one `executemany` per table in one transaction.

Schema creation and room enrolment (2,000 `room` rows, so `Room.last_activity_at` updates hit
real rows) are outside both timings. Both files use WAL and synchronous=NORMAL like `make_engine`.
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.core.config import load_settings
from bot.services.activity import ActivityRecorder
from policies import workcal
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import Room

TARGET = 1.5
Event = tuple[str, str, datetime, bool]


def generate(
    n: int, rooms: int = 2000, senders: int = 20000, days: int = 30, seed: int = 20260301
) -> list[Event]:
    """Deterministic, time-ordered events; room activity is skewed, senders come from room members."""
    rng = random.Random(seed)
    room_ids = [f"{i:05d}@chatroom" for i in range(rooms)]
    sender_ids = [f"wxid_{i:06d}" for i in range(senders)]
    members = [rng.sample(sender_ids, rng.randint(5, 60)) for _ in room_ids]
    weights = [1.0 / (1 + i % 200) for i in range(rooms)]  # a few busy rooms, a long quiet tail
    cum = list(_accumulate(weights))
    start = datetime(2026, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    span = days * 86400
    # Daytime-heavy timestamps: a uniform draw, with most night-time draws moved into the day.
    stamps = []
    for _ in range(n):
        t = rng.random() * span
        if (t % 86400) < 8 * 3600 and rng.random() < 0.8:
            t += rng.uniform(8, 16) * 3600
        stamps.append(start + min(t, span - 1))
    stamps.sort()
    picks = rng.choices(range(rooms), cum_weights=cum, k=n)
    out: list[Event] = []
    for ts, r in zip(stamps, picks, strict=True):
        m = members[r]
        sender = m[int(rng.random() * len(m))]
        out.append((room_ids[r], sender, datetime.fromtimestamp(ts, UTC), rng.random() < 0.005))
    return out


def _accumulate(xs: list[float]) -> list[float]:
    total, out = 0.0, []
    for x in xs:
        total += x
        out.append(total)
    return out


def enrol_rooms_sqlalchemy(engine: object, room_ids: list[str]) -> None:
    at = datetime(2026, 2, 1, tzinfo=UTC)
    with session_scope(engine) as s:  # type: ignore[arg-type]
        for rid in room_ids:
            s.add(Room(id=rid, topic=rid, status="active", enrolled_at=at, status_at=at))


# ------------------------------------------------------------------ project path


def run_project(events: list[Event], path: Path, flush_interval: float) -> tuple[float, int]:
    settings = load_settings(database_url=f"sqlite:///{path}", flush_interval=flush_interval)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    enrol_rooms_sqlalchemy(engine, sorted({e[0] for e in events}))
    rec = ActivityRecorder(engine, settings.tz, settings.work_start, settings.work_end)
    record, clock = rec.record, time.perf_counter
    flushes = 0
    gc.collect()
    t0 = clock()
    next_flush = t0 + flush_interval
    for i, (room, sender, at, mention_all) in enumerate(events):
        record(room, sender, at, mention_all)
        if not i & 255 and clock() >= next_flush:
            rec.write(*rec.take())  # what _flush_loop does each interval (inline, not in a thread)
            flushes += 1
            next_flush = clock() + flush_interval  # the loop sleeps a full interval after a write
    rec.flush()
    flushes += 1
    elapsed = clock() - t0
    engine.dispose()  # type: ignore[attr-defined]
    return elapsed, flushes


# ------------------------------------------------------------------ baseline


BASELINE_DDL = """
CREATE TABLE dailyactivity (room_id VARCHAR NOT NULL, day DATE NOT NULL, messages INTEGER NOT NULL,
  distinct_senders INTEGER NOT NULL, mention_all INTEGER NOT NULL, after_hours INTEGER NOT NULL,
  last_at DATETIME, PRIMARY KEY (room_id, day));
CREATE TABLE senderday (room_id VARCHAR NOT NULL, day DATE NOT NULL, contact_id VARCHAR NOT NULL,
  messages INTEGER NOT NULL, PRIMARY KEY (room_id, day, contact_id));
CREATE TABLE room (id VARCHAR NOT NULL PRIMARY KEY, last_activity_at DATETIME);
"""


def run_baseline(events: list[Event], path: Path, tz: ZoneInfo, work_start: str, work_end: str) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(BASELINE_DDL)
    conn.executemany("INSERT INTO room (id) VALUES (?)", [(r,) for r in sorted({e[0] for e in events})])
    conn.commit()
    start = tuple(int(x) for x in work_start.split(":"))
    end = tuple(int(x) for x in work_end.split(":"))

    @lru_cache(maxsize=4096)
    def workday(d: date) -> bool:
        return workcal.is_workday(d)

    gc.collect()
    t0 = time.perf_counter()
    days: dict[tuple[str, date], list] = {}  # type: ignore[type-arg]
    senders: dict[tuple[str, date, str], int] = {}
    for room, sender, at, mention_all in events:
        local = at.astimezone(tz)
        day = local.date()
        c = days.get((room, day))
        if c is None:
            c = days[(room, day)] = [0, 0, 0, at]
        c[0] += 1
        if mention_all:
            c[1] += 1
        hm = (local.hour, local.minute)
        if not (start <= hm < end) or not workday(day):
            c[2] += 1
        if at > c[3]:
            c[3] = at
        k = (room, day, sender)
        senders[k] = senders.get(k, 0) + 1
    distinct: dict[tuple[str, date], int] = {}
    for r, d, _ in senders:
        distinct[(r, d)] = distinct.get((r, d), 0) + 1
    latest: dict[str, datetime] = {}
    for (r, _), c in days.items():
        if r not in latest or c[3] > latest[r]:
            latest[r] = c[3]

    def ts(at: datetime) -> str:  # the text SQLAlchemy's SQLite DateTime stores (naive UTC)
        return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    with conn:
        conn.executemany(
            "INSERT INTO senderday VALUES (?, ?, ?, ?)",
            [(r, d.isoformat(), s, n) for (r, d, s), n in senders.items()],
        )
        conn.executemany(
            "INSERT INTO dailyactivity VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r, d.isoformat(), c[0], distinct[(r, d)], c[1], c[2], ts(c[3])) for (r, d), c in days.items()],
        )
        conn.executemany(
            "UPDATE room SET last_activity_at = ? WHERE id = ?", [(ts(a), r) for r, a in latest.items()]
        )
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


# ------------------------------------------------------------------ comparison


def totals(path: Path) -> dict[str, object]:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            "SELECT COALESCE(SUM(messages),0), COALESCE(SUM(after_hours),0), COALESCE(SUM(mention_all),0),"
            " COALESCE(SUM(distinct_senders),0), COUNT(*), MAX(last_at) FROM dailyactivity"
        ).fetchone()
        srow = conn.execute("SELECT COUNT(*), COALESCE(SUM(messages),0) FROM senderday").fetchone()
        rooms = conn.execute("SELECT COUNT(*), MAX(last_activity_at) FROM room "
                             "WHERE last_activity_at IS NOT NULL").fetchone()
    finally:
        conn.close()
    return {
        "messages": row[0], "after_hours": row[1], "mention_all": row[2], "distinct_senders": row[3],
        "room_days": row[4], "last_at": row[5], "sender_rows": srow[0], "sender_messages": srow[1],
        "rooms_with_activity": rooms[0], "room_last_activity": rooms[1],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rooms", type=int, default=2000)
    ap.add_argument("--senders", type=int, default=20000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--flush-interval", type=float, default=None,
                    help="seconds between project flushes (default: Settings().flush_interval)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run both sides this many times (alternating) and keep each side's best time")
    ap.add_argument("--check", action="store_true", help="exit 1 when the ratio misses the target")
    ap.add_argument("--keep", type=Path, default=None, help="keep the two database files in this directory")
    args = ap.parse_args(argv)

    settings = load_settings(database_url="sqlite://")
    interval = args.flush_interval if args.flush_interval is not None else settings.flush_interval
    t = time.perf_counter()
    events = generate(args.events, args.rooms, args.senders, args.days)
    print(f"generated {len(events):,} events ({args.rooms:,} rooms, {args.senders:,} senders, "
          f"{args.days} days) in {time.perf_counter() - t:.1f}s (not timed)")

    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        proj_db, base_db = where / "project.db", where / "baseline.db"
        project = baseline = float("inf")
        for i in range(args.repeat):
            for p in (proj_db, base_db):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{p}{suffix}").unlink(missing_ok=True)
            tpj, flushes = run_project(events, proj_db, interval)
            tbl = run_baseline(events, base_db, settings.tz, settings.work_start, settings.work_end)
            if args.repeat > 1:
                print(f"  run {i + 1}: project {tpj:.2f}s, baseline {tbl:.2f}s")
            project, baseline = min(project, tpj), min(baseline, tbl)
        tp, tb = totals(proj_db), totals(base_db)

    n = len(events)
    ratio = project / baseline
    print(f"project : {project:7.2f}s  {n / project:>10,.0f} events/s"
          f"  ({flushes} flushes, every {interval:g}s)")
    print(f"baseline: {baseline:7.2f}s  {n / baseline:>10,.0f} events/s")
    verdict = "PASS" if ratio <= TARGET else "MISS"
    print(f"ratio project/baseline: {ratio:.2f} (target <= {TARGET}) {verdict}")
    same = tp == tb
    print(f"totals: messages={tp['messages']:,} sender_rows={tp['sender_rows']:,} "
          f"room_days={tp['room_days']:,} {'identical' if same else 'DIFFER'}")
    if not same:
        for k in tp:
            if tp[k] != tb[k]:
                print(f"  {k}: project={tp[k]} baseline={tb[k]}")
    if not same or tp["messages"] != n:
        return 2
    return 1 if args.check and verdict == "MISS" else 0


if __name__ == "__main__":
    sys.exit(main())
