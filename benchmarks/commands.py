"""Command benchmark: 状态, 我的群 and 汇总 through the real dispatch, at 1k, 10k and 100k groups.

    .venv/bin/python benchmarks/commands.py [--sizes 1000,10000,100000] [--runs 40]

Each size is the synthetic township world of `benchmarks/audit.py` (about 40 groups and 200
people per township, ~30 members per group, 30 days of activity, every label code), plus a
jurisdiction tree (县 -> 第k镇) with one supervisor per township. Building a world is not timed;
the SQLite file of each size is kept in a cache directory (keyed by the generator's and the
schema's source) and copied for each run, because the commands write (the command log, the
reply in the outbox). With `QINGQUN_TEST_POSTGRES_URL` set (or `--database-url`), the same rows
are copied into a fresh PostgreSQL database per size on that server and measured again; those
databases are dropped at the end.

Timed: `bot.commands.dispatch.dispatch(services, message)`, the entry point the router calls
in its worker thread, from the command text to the reply queued in the outbox, for

* 状态: a group's owner in that group (a different sampled group each time);
* 我的群: a sampled group owner, privately;
* 汇总: a sampled township's supervisor (that township's groups).

Each command is sent `--runs` times per size after 3 untimed warm-ups; the median and p95 of
the wall-clock times are printed, and the growth of the medians from the smallest to the
largest size. Target: growth <= 2x for 状态 and 我的群 (a hundred times more groups, about the
same cost). Every timed command must be answered (outcome ok), or the run exits 2.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GROWTH_TARGET = 2.0
WARMUP = 3
PG_ENV = "QINGQUN_TEST_POSTGRES_URL"
COMMANDS = ("状态", "我的群", "汇总")
COUNTY = "县"


def audit_bench() -> ModuleType:
    """benchmarks/audit.py, whose generator and builders this benchmark reuses."""
    name = "qingqun_audit_bench"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "audit.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and friends look the module up by name
    spec.loader.exec_module(module)
    return module


def cache_key() -> str:
    """Changes whenever the generator or the schema does, so a stale cached world is never used."""
    digest = hashlib.sha256((HERE / "audit.py").read_bytes())
    for path in sorted((ROOT / "storage" / "migrations" / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cached_world(n: int, cache: Path) -> Path:
    """The SQLite world of `n` groups in the cache (built on first use)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"commands_{n}_{cache_key()}.db"
    if not path.exists():
        t0 = time.perf_counter()
        building = path.with_suffix(".building")
        audit_bench().build_db(building, n)
        add_directory(f"sqlite:///{building}", n)
        building.replace(path)
        print(f"  built and cached {n:,} groups in {time.perf_counter() - t0:.0f}s: {path} (not timed)")
    return path


def add_directory(url: str, n: int) -> None:
    """The jurisdiction tree of the generated world and one supervisor per township (and county)."""
    from storage.db import make_engine, session_scope
    from storage.models import Contact, Unit

    towns = max(1, n // 40)  # as `generate` assigns them
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            s.add(Unit(name=COUNTY, parent=None))
            s.add(Contact(id="sup_county", name="县督导", unit=COUNTY, role="supervisor"))
            for k in range(towns):
                s.add(Unit(name=f"第{k}镇", parent=COUNTY))
                s.add(Contact(id=f"sup_t{k}", name=f"第{k}镇督导", unit=f"第{k}镇", role="supervisor"))
    finally:
        engine.dispose()


_COPIED = ("unit", "contact", "room", "membership", "dailyactivity")


def copy_to_postgres(source: Path, url: str) -> None:
    """The cached SQLite world's rows into a fresh PostgreSQL database (schema by Alembic)."""
    import psycopg

    from storage.db import make_engine
    from storage.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    lite = sqlite3.connect(source)
    try:
        with psycopg.connect(audit_bench()._libpq_url(url)) as pg, pg.cursor() as cur:
            for table in _COPIED:
                columns = [row[1] for row in lite.execute(f"PRAGMA table_info({table})")]
                if table == "membership":
                    columns.remove("id")  # the serial assigns it
                names = ", ".join(columns)
                with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in lite.execute(f"SELECT {names} FROM {table}"):
                        copy.write_row(_pg_values(table, columns, row))
            pg.commit()
            pg.autocommit = True
            pg.execute("VACUUM ANALYZE")
    finally:
        lite.close()


def _pg_values(table: str, columns: list[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    """SQLite keeps booleans as 0/1; PostgreSQL wants true/false."""
    if table == "room":
        i = columns.index("approved")
        return (*row[:i], bool(row[i]), *row[i + 1 :])
    if table == "contact":
        i = columns.index("friend")
        return (*row[:i], bool(row[i]), *row[i + 1 :])
    return row


class Samples:
    """Who sends what: sampled groups with their owners, owners, township supervisors."""

    def __init__(self, url: str, n: int, runs: int, seed: int) -> None:
        from sqlalchemy import text

        from storage.db import make_engine

        total = runs + WARMUP
        rng = random.Random(seed)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT id, owner_id FROM room WHERE status = 'active' AND owner_id IS NOT NULL")
                ).all()
        finally:
            engine.dispose()
        rows.sort()
        picked = rng.sample(rows, min(total, len(rows)))
        self.rooms = [(r[0], r[1]) for r in picked]
        owners = sorted({r[1] for r in rows})
        self.owners = rng.sample(owners, min(total, len(owners)))
        towns = max(1, n // 40)
        self.supervisors = [f"sup_t{rng.randrange(towns)}" for _ in range(total)]


def measure(url: str, n: int, runs: int, seed: int) -> dict[str, list[float]]:
    """Seconds per dispatch of each command (the warm-ups left out)."""
    from bot.commands.dispatch import dispatch
    from bot.core.clock import VirtualClock
    from bot.core.config import load_settings
    from bot.core.domain import ChatMessage
    from bot.services.context import AppContext
    from storage import approvals as approvals_db
    from storage.db import make_engine, session_scope

    bench = audit_bench()
    samples = Samples(url, n, runs, seed)
    # The audit day's evening, a message every few seconds (under the per-sender rate limit).
    start = datetime.combine(bench.AUDIT_DAY, datetime.min.time(), tzinfo=bench.TZ).replace(hour=19)
    settings = load_settings(database_url=url)
    engine = make_engine(settings.db_url)
    services = AppContext(engine=engine, settings=settings, clock=VirtualClock(start))
    step = timedelta(seconds=7)
    senders: dict[str, Callable[[int, datetime], ChatMessage]] = {
        "状态": lambda i, at: ChatMessage(
            room_id=samples.rooms[i % len(samples.rooms)][0],
            talker_id=samples.rooms[i % len(samples.rooms)][1],
            at=at,
            command_text="状态",
        ),
        "我的群": lambda i, at: ChatMessage(
            room_id=None, talker_id=samples.owners[i % len(samples.owners)], at=at, command_text="我的群"
        ),
        "汇总": lambda i, at: ChatMessage(
            room_id=None, talker_id=samples.supervisors[i], at=at, command_text="汇总"
        ),
    }
    out: dict[str, list[float]] = {}
    try:
        for c, (name, make) in enumerate(senders.items()):
            times: list[float] = []
            for i in range(WARMUP + runs):
                msg = make(i, start + timedelta(hours=c) + i * step)
                t0 = time.perf_counter()
                dispatch(services, msg)
                elapsed = time.perf_counter() - t0
                if i >= WARMUP:
                    times.append(elapsed)
            out[name] = times
        with session_scope(engine) as s:
            log = approvals_db.command_log(s)
        refused = [(r.command, r.reason) for r in log if r.outcome != "ok"]
        if len(log) != len(senders) * (WARMUP + runs) or refused:
            raise SystemExit(f"commands not answered as expected: {len(log)} logged, refused {refused[:5]}")
    finally:
        engine.dispose()
    return out


def p95(xs: list[float]) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def size_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def run_backend(
    backend: str, sizes: list[int], runs: int, seed: int, cache: Path, base_url: str | None
) -> dict[int, dict[str, list[float]]]:
    bench = audit_bench()
    results: dict[int, dict[str, list[float]]] = {}
    for n in sizes:
        world = cached_world(n, cache)
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp) / "commands.db"
                shutil.copyfile(world, work)
                results[n] = measure(f"sqlite:///{work}", n, runs, seed)
        else:
            assert base_url is not None
            name = f"qq_bench_commands_{n}"
            url = bench.fresh_postgres_database(base_url, name)
            try:
                t0 = time.perf_counter()
                copy_to_postgres(world, url)
                print(f"  copied {n:,} groups into PostgreSQL in {time.perf_counter() - t0:.0f}s (not timed)")
                results[n] = measure(url, n, runs, seed)
            finally:
                bench.drop_postgres_database(base_url, name)
        parts = [
            f"{c} median {statistics.median(times) * 1000:.1f} ms p95 {p95(times) * 1000:.1f} ms"
            for c, times in ((c, results[n][c]) for c in COMMANDS)
        ]
        print(f"{n:,} groups ({backend}, {runs} runs each): " + "; ".join(parts))
    return results


def growth_line(results: dict[int, dict[str, list[float]]], sizes: list[int]) -> str:
    a, b = sizes[0], sizes[-1]

    def growth(c: str) -> float:
        return statistics.median(results[b][c]) / statistics.median(results[a][c])

    return (f"growth {size_label(a)}->{size_label(b)}: 状态 {growth('状态'):.1f}x, "
            f"我的群 {growth('我的群'):.1f}x (target <= {GROWTH_TARGET:g}x)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated group counts")
    ap.add_argument("--runs", type=int, default=40, help="timed dispatches per command and size")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "qingqun-bench-cache",
                    help="where the generated SQLite worlds are kept between runs")
    ap.add_argument("--database-url", default=os.environ.get(PG_ENV) or None,
                    help=f"also measure on this PostgreSQL server (default: ${PG_ENV})")
    ap.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL even when a URL is set")
    args = ap.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    if len(sizes) < 2:
        ap.error("give at least two sizes")
    lines = []
    lite = run_backend("sqlite", sizes, args.runs, args.seed, args.cache, None)
    lines.append(growth_line(lite, sizes))
    if args.database_url and not args.sqlite_only:
        pg = run_backend("postgresql", sizes, args.runs, args.seed, args.cache, args.database_url)
        lines.append("postgresql " + growth_line(pg, sizes))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
