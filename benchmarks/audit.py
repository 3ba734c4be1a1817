"""Audit benchmark: the full `bot.services.audit.run_audit` path against a plain scan of the same rows.

    .venv/bin/python benchmarks/audit.py [--sizes 10000,100000] [--repeat 2] [--check]
    .venv/bin/python benchmarks/audit.py --database-url postgresql://postgres@127.0.0.1:5432/test

For each size a seeded synthetic township world (about 30 members per group, 30 days of
activity; registered temporary/phase groups past or near their end, standing groups,
unregistered groups with phase-like names, near-duplicate audiences, owners who left, idle,
after-hours and @所有人-heavy groups, a few dissolved/removed) is written to a fresh SQLite
file through the project's schema (Alembic) with executemany, or, with `--database-url`, into
a fresh PostgreSQL database per size on that server (created next to the named one, dropped at
the end) with COPY. Building is not timed.

Then, each in its own fresh process so peak RSS is that of the measured work alone:

* scan (the floor): plain sqlite3 (or psycopg) SELECTs of the rows the audit reads (all room
  rows, current memberships, the used activity columns of the last 90 days): each row is fetched
  as a tuple and dropped, nothing is kept (psycopg converts each value to its Python type, as
  any client of it does);
* audit: `run_audit(engine, rules, now, tz)` — storage read, facts, `evaluate` (all labels,
  duplicates included) and `burden`. The engine is created (and warmed) outside the timing.

Targets: audit/scan <= 3 at every size, audit growth <= 12x from 10k to 100k groups, audit peak
RSS <= 500 MB at 100k. `--check` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from policies import workcal

TZ = ZoneInfo("Asia/Shanghai")
AUDIT_DAY = date(2026, 12, 10)  # a Thursday; audits run "as of" the end of this local day
SEED = 20261210
RATIO_TARGET = 3.0
GROWTH_TARGET = 12.0
RSS_TARGET_MB = 500.0
WINDOW_DAYS = 90  # what load_facts reads; the scan reads the same

# Category mix per 100 groups; every category occurs in any block of 100, so even a few hundred
# groups produce every label code.
MIX: dict[str, int] = {
    "standing": 24,  # registered standing, approved
    "temp_live": 8,  # registered temporary, end well ahead
    "temp_expired": 6,
    "phase_live": 5,
    "phase_expired": 5,
    "ending_soon": 3,
    "unreg_phase": 10,  # unregistered, name implies a phase that ended
    "unreg_task": 5,  # unregistered, name implies a live task
    "unreg_standing": 14,  # unregistered, standing-looking name
    "new": 3,  # enrolled a few days ago, not yet due for registration
    "idle": 6,
    "ownerless": 3,
    "after_hours": 3,
    "mention_all": 2,
    "dissolved": 2,
    "removed": 1,
}
DUP_SHARE = 0.04  # share of groups that are near-copies of another group's audience

VILLAGES = [
    a + b
    for a in "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
    for b in ("庄", "集", "寨", "营", "店", "楼", "湾", "屯", "坡", "岗")
]
STANDING_NAMES = ["{v}村两委群", "{v}村网格员群", "{t}党政办工作群", "{v}村党支部", "{t}信息报送群",
                  "{t}综治中心群", "{v}村村民群", "{t}便民服务群", "{t}全体干部群", "{v}社区居委会"]
PHASE_NAMES = ["{y}年{v}防汛工作群", "{y}年三秋生产{v}群", "{y}年秋季征兵{t}群", "{v}第七次全国人口普查",
               "{y}年{t}秸秆禁烧督导群", "{y}年国庆值班{v}群", "{t}{y}年迎检临时群", "{y}年春耕{v}工作群"]
TASK_NAMES = ["{v}村道路验收群", "{t}培训班", "{t}创文攻坚群", "{v}拆违专班", "{t}招商项目群"]
TEMP_NAMES = ["{t}{v}征兵体检临时群", "{t}{v}会务群", "{v}慰问活动群", "{t}{v}考察接待群"]


def _ts(at: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores for a UTC column (naive UTC)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _categories(n: int, rng: random.Random) -> list[str]:
    block = [c for c, k in MIX.items() for _ in range(k)]
    out: list[str] = []
    while len(out) < n:
        b = block[:]
        rng.shuffle(b)
        out.extend(b)
    return out[:n]


Rows = list[tuple[Any, ...]]


def generate(n: int, seed: int = SEED) -> tuple[Rows, Rows, Rows]:
    """Rows ready for the room, membership and dailyactivity tables (column order as named below)."""
    rng = random.Random(seed)
    now = datetime.combine(AUDIT_DAY, datetime.min.time(), tzinfo=TZ).replace(hour=20)
    today = AUDIT_DAY
    towns = max(1, n // 40)
    local_pool = 200  # people per township: each sits in about six of its 40 groups
    county = [f"wxid_c{i:04d}" for i in range(200)]
    cats = _categories(n, rng)
    rooms: Rows = []
    members: Rows = []
    activity: Rows = []
    audiences: list[list[str]] = []
    days = [today - timedelta(days=k) for k in range(30)]
    workday = {d: workcal.is_workday(d) for d in days}
    for i, cat in enumerate(cats):
        town = i % towns
        tname = f"第{town}镇"
        rid = f"{i:07d}@chatroom"
        size = rng.randint(20, 40)
        if audiences and rng.random() < DUP_SHARE:
            base = rng.choice(audiences[-200:])
            aud = list(base)
            for _ in range(rng.randint(0, 2)):
                aud[rng.randrange(len(aud))] = f"wxid_t{town:05d}_{rng.randrange(local_pool):03d}"
            aud = list(dict.fromkeys(aud))
        else:
            aud = [f"wxid_t{town:05d}_{m:03d}" for m in rng.sample(range(local_pool), size - 2)]
            aud += rng.sample(county, 2)
        audiences.append(aud)
        owner: str | None = aud[0]
        v = rng.choice(VILLAGES)
        y = rng.choice((2024, 2025))
        fill = {"v": v, "t": tname, "y": y}
        topic = rng.choice(STANDING_NAMES).format(**fill)
        kind: str | None = None
        end: date | None = None
        approved = False
        status = "active"
        enrolled = now - timedelta(days=rng.randint(20, 300), minutes=rng.randint(0, 600))
        level = "normal"
        if cat == "standing":
            kind, approved = "standing", rng.random() < 0.9
        elif cat in ("temp_live", "temp_expired", "ending_soon", "phase_live", "phase_expired"):
            kind = "phase" if cat.startswith("phase") else "temporary"
            topic = rng.choice(TEMP_NAMES if kind == "temporary" else PHASE_NAMES).format(**fill)
            offset = {"temp_live": (10, 120), "phase_live": (10, 200), "temp_expired": (-60, -1),
                      "phase_expired": (-120, -1), "ending_soon": (0, 3)}[cat]
            end = today + timedelta(days=rng.randint(*offset))
            if cat == "ending_soon":
                kind = rng.choice(("temporary", "phase"))
        elif cat == "unreg_phase":
            topic = rng.choice(PHASE_NAMES).format(**fill)
        elif cat == "unreg_task":
            topic = rng.choice(TASK_NAMES).format(**fill)
        elif cat == "new":
            enrolled = now - timedelta(days=rng.randint(0, 5), hours=rng.randint(0, 8))
        elif cat == "idle":
            kind = rng.choice((None, "temporary", "standing"))
            if kind == "temporary":
                end = today + timedelta(days=rng.randint(30, 200))
            enrolled = now - timedelta(days=rng.randint(100, 300))
            level = "silent"
        elif cat == "ownerless":
            kind = "temporary"
            end = today + timedelta(days=rng.randint(30, 200))
            owner = None if rng.random() < 0.3 else f"wxid_t{town:05d}_gone{i % 7}"
        elif cat == "after_hours":
            kind, approved, level = "standing", True, "night"
        elif cat == "mention_all":
            kind, approved, level = "standing", True, "shouty"
        elif cat in ("dissolved", "removed"):
            status = cat
        registered_at = enrolled + timedelta(days=rng.randint(0, 5)) if kind else None
        last: datetime | None = None
        if level == "silent":
            if rng.random() < 0.7:
                last = now - timedelta(days=rng.randint(40, 90), hours=rng.randint(0, 20))
        else:
            for d in days:
                if d < enrolled.astimezone(TZ).date():
                    continue
                busy = level in ("night", "shouty")
                if not busy and rng.random() > (0.65 if workday[d] else 0.15):
                    continue
                msgs = rng.randint(3, 30) if busy else rng.randint(1, 15)
                share = 0.6 if level == "night" else (0.05 if workday[d] else 1.0)
                after = sum(rng.random() < share for _ in range(msgs))
                mention = rng.randint(1, 2) if level == "shouty" else int(rng.random() < 0.03)
                senders = min(msgs, len(aud), rng.randint(1, 8))
                at = datetime.combine(d, datetime.min.time(), tzinfo=TZ) + timedelta(
                    hours=rng.randint(9, 21), minutes=rng.randint(0, 59)
                )
                activity.append((rid, d.isoformat(), msgs, senders, mention, after, _ts(at)))
                last = at if last is None or at > last else last
        room = {
            "id": rid, "topic": topic, "owner_id": owner, "status": status,
            "status_at": _ts(enrolled if status == "active" else now - timedelta(days=3)),
            "enrolled_at": _ts(enrolled), "enrolled_by": owner,
            "created_on": (enrolled.date() - timedelta(days=rng.randint(0, 400))).isoformat(),
            "member_count": len(aud) if status != "dissolved" else 0, "admin_ids": "[]",
            "kind": kind, "end_date": end.isoformat() if end else None,
            "original_end_date": end.isoformat() if end else None, "extension_count": 0,
            "purpose": None, "unit": tname,
            "registered_by": owner if kind else None,
            "registered_at": _ts(registered_at) if registered_at else None,
            "approved": approved, "claimed_dissolved_at": None,
            "last_activity_at": _ts(last) if last else None, "missing_since": None, "observer_id": None,
        }
        rooms.append(tuple(room[c] for c in ROOM_COLUMNS))
        joined = _ts(enrolled - timedelta(days=1))
        left = _ts(now - timedelta(days=3)) if status == "dissolved" else None
        for m in aud:
            members.append((rid, m, joined, left))
        if cat == "ownerless" or i % 9 == 0:
            # Someone who left earlier: a closed membership the audit must not count.
            members.append((rid, f"wxid_t{town:05d}_left", joined, _ts(enrolled + timedelta(days=2))))
    return rooms, members, activity


ROOM_COLUMNS = (
    "id", "topic", "owner_id", "status", "status_at", "enrolled_at", "enrolled_by", "created_on",
    "member_count", "admin_ids", "kind", "end_date", "original_end_date", "extension_count", "purpose",
    "unit", "registered_by", "registered_at", "approved", "claimed_dissolved_at", "last_activity_at",
    "missing_since", "observer_id",
)  # fmt: skip
MEMBER_COLUMNS = ("room_id", "contact_id", "joined_at", "left_at")
ACTIVITY_COLUMNS = ("room_id", "day", "messages", "distinct_senders", "mention_all", "after_hours", "last_at")


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def is_postgres(target: Path | str) -> bool:
    return str(target).startswith(("postgresql:", "postgresql+psycopg:", "postgres:"))


def _libpq_url(url: str) -> str:
    """The URL as psycopg takes it (without SQLAlchemy's driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://").replace("postgres://", "postgresql://")


def fresh_postgres_database(base_url: str, name: str) -> str:
    """Create (or re-create) database `name` on the server of `base_url`; its URL."""
    import psycopg

    admin = _libpq_url(base_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = admin.rpartition("/")
    return f"{head}/{name}"


def drop_postgres_database(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_libpq_url(base_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(target: Path | str) -> str:
    """The SQLAlchemy URL of a database file or PostgreSQL URL."""
    return str(target) if is_postgres(target) else f"sqlite:///{target}"


def _fill_postgres(url: str, rooms: Rows, members: Rows, activity: Rows) -> None:
    """COPY the rows in (the generator's text timestamps are naive UTC, as the schema stores)."""
    import psycopg

    with psycopg.connect(_libpq_url(url)) as conn:
        with conn.cursor() as cur:
            tables = (("room", ROOM_COLUMNS, rooms), ("membership", MEMBER_COLUMNS, members),
                      ("dailyactivity", ACTIVITY_COLUMNS, activity))
            for table, columns, rows in tables:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def build_db(target: Path | str, n: int, seed: int = SEED) -> dict[str, int]:
    """A fresh database at `target` (a file, or an empty PostgreSQL database's URL) with the
    project's schema, filled with `n` synthetic groups."""
    from storage.db import make_engine
    from storage.migrate import upgrade
    from storage.models import DailyActivity, Membership, Room

    if not is_postgres(target):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    engine = make_engine(database_url(target))
    upgrade(engine)
    # The generator's column lists must cover the tables exactly (a new column would be missed).
    for model, cols in ((Room, ROOM_COLUMNS), (Membership, ("id", *MEMBER_COLUMNS)),
                        (DailyActivity, ACTIVITY_COLUMNS)):
        have = {c.name for c in model.__table__.columns}  # type: ignore[attr-defined]
        if have != set(cols):
            raise RuntimeError(f"{model.__name__} columns changed: {sorted(have ^ set(cols))}")
    engine.dispose()
    rooms, members, activity = generate(n, seed)
    counts = {"rooms": len(rooms), "memberships": len(members), "activity_rows": len(activity)}
    if is_postgres(target):
        _fill_postgres(str(target), rooms, members, activity)
        return counts
    conn = sqlite3.connect(target)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        with conn:
            conn.executemany(_insert_sql("room", ROOM_COLUMNS), rooms)
            conn.executemany(_insert_sql("membership", MEMBER_COLUMNS), members)
            conn.executemany(_insert_sql("dailyactivity", ACTIVITY_COLUMNS), activity)
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return counts


def audit_now() -> datetime:
    from bot.services.audit import as_of

    return as_of(AUDIT_DAY, TZ)


def scan(target: Path | str) -> int:
    """The floor: stream what the audit's results depend on, as any minimal consumer would.

    Plain sqlite3, no type conversion, each row looked at once and dropped: every room row (all
    columns, as the audit's rows carry them), every current membership (room, contact) and the
    activity columns the audit uses (room, day, messages, after-hours, @all, last message time)
    for the days it reads. Returns the number of rows.
    """
    today = AUDIT_DAY.isoformat()
    since = (AUDIT_DAY - timedelta(days=WINDOW_DAYS)).isoformat()
    queries: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("SELECT * FROM room ORDER BY id", ()),
        ("SELECT room_id, contact_id FROM membership WHERE left_at IS NULL", ()),
        ("SELECT room_id, day, messages, after_hours, mention_all, last_at FROM dailyactivity"
         " WHERE day >= ? AND day <= ?", (since, today)),
    )
    n = 0
    if is_postgres(target):
        import psycopg

        with psycopg.connect(_libpq_url(str(target))) as pg:
            for sql, params in queries:
                for _row in pg.execute(sql.replace("?", "%s"), params):  # type: ignore[arg-type]
                    n += 1
        return n
    conn = sqlite3.connect(target)
    try:
        for sql, params in queries:
            for _row in conn.execute(sql, params):
                n += 1
    finally:
        conn.close()
    return n


def run_audit_once(engine: Any, rules: Any) -> tuple[list[Any], list[Any]]:
    from bot.services.audit import run_audit

    rows, burdens = run_audit(engine, rules, audit_now(), TZ)
    return rows, burdens


def label_counts(rows: list[Any]) -> Counter[str]:
    return Counter(lb.code for r in rows for lb in r.verdict.labels)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child(mode: str, path: Path | str, repeat: int) -> dict[str, Any]:
    """Measure one side in this (fresh) process; returns best time, peak RSS and a summary."""
    best = float("inf")
    out: dict[str, Any] = {"mode": mode}
    if mode == "scan":
        for _ in range(repeat):
            gc.collect()
            t0 = time.perf_counter()
            out["rows"] = scan(path)
            best = min(best, time.perf_counter() - t0)
    else:
        from policies.rules import load_rules
        from storage.db import make_engine

        engine = make_engine(database_url(path))
        rules = load_rules()
        for _ in range(repeat):
            gc.collect()
            t0 = time.perf_counter()
            rows, burdens = run_audit_once(engine, rules)
            best = min(best, time.perf_counter() - t0)
            out["labels"] = dict(sorted(label_counts(rows).items()))
            out["groups"] = len(rows)
            out["people"] = len(burdens)
            del rows, burdens
        engine.dispose()
    out["seconds"] = best
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _spawn(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated group counts")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per side; the best is kept")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--keep", type=Path, default=None, help="keep the database files in this directory")
    ap.add_argument("--child", choices=("build", "scan", "audit"), help=argparse.SUPPRESS)
    ap.add_argument("--database-url", default=None,
                    help="measure on PostgreSQL: a server URL (postgresql://…); one database per size is "
                         "created on it and dropped at the end")
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child == "build":
        t0 = time.perf_counter()
        counts = build_db(args.db, args.n)
        print(json.dumps({**counts, "seconds": time.perf_counter() - t0}))
        return 0
    if args.child:
        print(json.dumps(_child(args.child, args.db, args.repeat), ensure_ascii=False))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results: dict[int, dict[str, Any]] = {}
    misses: list[str] = []
    made: list[str] = []  # PostgreSQL databases to drop
    try:
        with tempfile.TemporaryDirectory() as tmp:
            where = args.keep or Path(tmp)
            where.mkdir(parents=True, exist_ok=True)
            for n in sizes:
                db = where / f"audit_{n}.db"
                if args.database_url:
                    db = fresh_postgres_database(args.database_url, f"qq_bench_audit_{n}")
                    made.append(f"qq_bench_audit_{n}")
                built = _spawn("--child", "build", "--db", str(db), "--n", str(n))
                print(f"{n:,} groups: built {built['rooms']:,} rooms, {built['memberships']:,} memberships, "
                      f"{built['activity_rows']:,} activity rows in {built['seconds']:.1f}s (not timed)")
                sc = _spawn("--child", "scan", "--db", str(db), "--repeat", str(args.repeat))
                au = _spawn("--child", "audit", "--db", str(db), "--repeat", str(args.repeat))
                ratio = au["seconds"] / sc["seconds"]
                ok = ratio <= RATIO_TARGET
                if not ok:
                    misses.append(f"ratio at {n}")
                results[n] = {"scan": sc, "audit": au, "ratio": ratio}
                print(f"  scan : {sc['seconds']:7.3f}s  ({sc['rows']:,} rows)"
                      f"  peak RSS {sc['peak_rss_mb']:6.0f} MB")
                print(f"  audit: {au['seconds']:7.3f}s  ({au['groups']:,} groups, {au['people']:,} people)"
                      f"  peak RSS {au['peak_rss_mb']:6.0f} MB")
                print(f"  ratio audit/scan: {ratio:.2f} (target <= {RATIO_TARGET:g}) {_verdict(ok)}")
                print("  labels: " + ", ".join(f"{k} {v:,}" for k, v in au["labels"].items()))
            if 10_000 in results and 100_000 in results:
                growth = results[100_000]["audit"]["seconds"] / results[10_000]["audit"]["seconds"]
                ok = growth <= GROWTH_TARGET
                if not ok:
                    misses.append("growth")
                scan_growth = results[100_000]["scan"]["seconds"] / results[10_000]["scan"]["seconds"]
                print(f"growth 10k -> 100k: audit {growth:.1f}x (target <= {GROWTH_TARGET:g}x) "
                      f"{_verdict(ok)}; scan {scan_growth:.1f}x")
            elif len(sizes) >= 2:
                a, b = sizes[0], sizes[-1]
                growth = results[b]["audit"]["seconds"] / results[a]["audit"]["seconds"]
                print(f"growth {a:,} -> {b:,} ({b / a:g}x groups): audit {growth:.1f}x (informational)")
            if 100_000 in results:
                rss = results[100_000]["audit"]["peak_rss_mb"]
                ok = rss <= RSS_TARGET_MB
                if not ok:
                    misses.append("rss")
                print(f"peak RSS at 100k (audit process): {rss:.0f} MB "
                      f"(target <= {RSS_TARGET_MB:g} MB) {_verdict(ok)}")
    finally:
        for name in made:
            drop_postgres_database(args.database_url, name)
    if misses:
        print("missed: " + ", ".join(misses))
    return 1 if args.check and misses else 0


if __name__ == "__main__":
    sys.exit(main())
