"""Ingest benchmark: the project's recording path against a minimal dict + sqlite3 (or psycopg) baseline.

    .venv/bin/python benchmarks/ingest.py [--events N] [--repeat 3] [--check]
    .venv/bin/python benchmarks/ingest.py --database-url postgresql://postgres@127.0.0.1:5432/test

Both sides get the same pre-generated, time-ordered list of synthetic message events (generation is
outside both timings) and write the same aggregates into a fresh SQLite file each, or, with
`--database-url`, into a fresh PostgreSQL database each on that server (created next to the
named one, dropped at the end):

* project: `ActivityRecorder.record()` for every event, with `take()` + `write()` (what
  `bot.cli.run._flush_loop` does) every `flush_interval` seconds of wall-clock time, the live loop's
  cadence (Settings default 1.0 s), plus a final `flush()`. The write runs inline rather than in a
  thread, so its cost is counted in full.
* baseline: plain dict counters, then one `executemany` per table in one transaction
  (sqlite3, or psycopg's, which pipelines the rows).

Schema creation and room enrolment (2,000 `room` rows, so `Room.last_activity_at` updates hit
real rows) are outside both timings. Both SQLite files use WAL and synchronous=NORMAL like
`make_engine`. Both sides run `--repeat` times, alternating; the ratio printed is the median of
the runs' ratios, and the times the medians of each side.
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.config import load_settings
from bot.services.activity import ActivityRecorder
from policies import workcal
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import Room

TARGETS = {"sqlite": 1.3, "postgresql": 1.5}
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


def run_project(events: list[Event], url: str, flush_interval: float) -> tuple[float, int]:
    settings = load_settings(database_url=url, flush_interval=flush_interval)
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


class _Postgres:
    """psycopg with the sqlite3 calls the baseline makes (placeholders as %s, timestamps as values)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))

    def executescript(self, script: str) -> None:
        self.conn.execute(script.replace("DATETIME", "TIMESTAMP"))  # type: ignore[arg-type]
        self.conn.commit()

    def executemany(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)  # type: ignore[arg-type]

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> _Postgres:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.conn.commit()
        else:
            self.conn.rollback()


def _connect(url: str) -> Any:
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn
    return _Postgres(url)


def run_baseline(events: list[Event], url: str, tz: ZoneInfo, work_start: str, work_end: str) -> float:
    conn = _connect(url)
    sqlite = url.startswith("sqlite")
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

    def ts(at: datetime) -> object:  # what the project stores: naive UTC (as text on SQLite)
        naive = at.astimezone(UTC).replace(tzinfo=None)
        return naive.isoformat(" ", "microseconds") if sqlite else naive

    def day(d: date) -> object:
        return d.isoformat() if sqlite else d

    # In primary-key order, as any writer that knows B-trees would (and the project does).
    sender_rows = sorted((r, day(d), s, n) for (r, d, s), n in senders.items())
    day_rows = sorted((r, day(d), c[0], distinct[(r, d)], c[1], c[2], ts(c[3])) for (r, d), c in days.items())
    with conn:
        conn.executemany("INSERT INTO senderday VALUES (?, ?, ?, ?)", sender_rows)
        conn.executemany("INSERT INTO dailyactivity VALUES (?, ?, ?, ?, ?, ?, ?)", day_rows)
        conn.executemany(
            "UPDATE room SET last_activity_at = ? WHERE id = ?", [(ts(a), r) for r, a in latest.items()]
        )
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


# ------------------------------------------------------------------ comparison


def totals(url: str) -> dict[str, object]:
    conn = _connect(url)
    if not url.startswith("sqlite"):
        conn = conn.conn
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


def _fresh(base_url: str | None, where: Path, name: str) -> str:
    """An empty database for one side of one run: a new file, or a new PostgreSQL database."""
    if base_url is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{where / name}.db{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{where / name}.db"
    import psycopg

    admin = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return f"{admin.rpartition('/')[0]}/{name}"


def _drop(base_url: str, names: list[str]) -> None:
    import psycopg

    with psycopg.connect(base_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rooms", type=int, default=2000)
    ap.add_argument("--senders", type=int, default=20000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--flush-interval", type=float, default=None,
                    help="seconds between project flushes (default: Settings().flush_interval)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="run both sides this many times (alternating); the median ratio is reported")
    ap.add_argument("--check", action="store_true", help="exit 1 when the ratio misses the target")
    ap.add_argument("--keep", type=Path, default=None, help="keep the two database files in this directory")
    ap.add_argument("--database-url", default=None,
                    help="measure on PostgreSQL: a server URL (postgresql://…); two databases are created "
                         "on it for each run and dropped at the end")
    args = ap.parse_args(argv)

    settings = load_settings(database_url="sqlite://")
    interval = args.flush_interval if args.flush_interval is not None else settings.flush_interval
    backend = "sqlite" if args.database_url is None else "postgresql"
    target = TARGETS[backend]
    t = time.perf_counter()
    events = generate(args.events, args.rooms, args.senders, args.days)
    print(f"generated {len(events):,} events ({args.rooms:,} rooms, {args.senders:,} senders, "
          f"{args.days} days) in {time.perf_counter() - t:.1f}s (not timed)")

    runs: list[tuple[float, float]] = []
    names = ["qq_bench_ingest_project", "qq_bench_ingest_baseline"]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            where = args.keep or Path(tmp)
            where.mkdir(parents=True, exist_ok=True)
            for i in range(args.repeat):
                proj_db = _fresh(args.database_url, where, names[0] if args.database_url else "project")
                tpj, flushes = run_project(events, proj_db, interval)
                base_db = _fresh(args.database_url, where, names[1] if args.database_url else "baseline")
                tbl = run_baseline(events, base_db, settings.tz, settings.work_start, settings.work_end)
                if args.repeat > 1:
                    print(f"  run {i + 1}: project {tpj:.2f}s, baseline {tbl:.2f}s, ratio {tpj / tbl:.2f}")
                runs.append((tpj, tbl))
            tp, tb = totals(proj_db), totals(base_db)
    finally:
        if args.database_url:
            _drop(args.database_url, names)

    n = len(events)
    project = statistics.median(p for p, _ in runs)
    baseline = statistics.median(b for _, b in runs)
    ratio = statistics.median(p / b for p, b in runs)
    print(f"project : {project:7.2f}s  {n / project:>10,.0f} events/s"
          f"  ({flushes} flushes, every {interval:g}s)")
    print(f"baseline: {baseline:7.2f}s  {n / baseline:>10,.0f} events/s")
    verdict = "PASS" if ratio <= target else "MISS"
    of = f"median of {len(runs)} runs; " if len(runs) > 1 else ""
    print(f"ratio project/baseline: {ratio:.2f} ({of}target <= {target}) {verdict}")
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
