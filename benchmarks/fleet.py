"""Fleet benchmark: the Monday owner-digest round of a county served by 20 bot accounts.

    .venv/bin/python benchmarks/fleet.py [--rooms 10000] [--owners 5000] [--accounts 20] [--check]
    .venv/bin/python benchmarks/fleet.py --database-url postgresql://postgres@127.0.0.1:5432/test

World (not timed): the township groups of `benchmarks/audit.py` (same generator and seed: 30 days
of activity, registered groups past or near their end, idle and unregistered groups, ...), with
the owners re-dealt so that `--owners` people own them (each a member of the groups they own,
except in the generator's "owner left" groups). Then, through the storage functions the bot uses:
`--accounts` bot accounts log in (`accounts.record_login`); every active group is in one
account's presence, ~10% in a second one's (`accounts.enter_room`); every owner is a contact
(`directory.upsert_contact`) and a friend of one or two accounts (`accounts.set_friends`), except
~3% who are nobody's friend (`Contact.friend` false: the composer @mentions them in their groups).
A fresh migrated SQLite file, or with `--database-url` a fresh PostgreSQL database on that server
(dropped at the end).

Timed, wall clock, in this process: `owner_digest_job(services, Monday 09:30, force=True)` with an
`AppContext` whose outbox serves no account (the leader composes and routes every digest), against
`run_audit` on the same data at the same moment (the audit the job itself starts with). `--repeat`
runs alternate (the outbox and the digest events are emptied between job runs); the ratio is the
median of the runs' ratios. Target: job/audit <= 1.5.

Virtual clock: the round is then delivered by one `Outbox` per account (`account=` that id), all on
one `VirtualClock` starting at the job time; each account is stepped when its wake time is due and
the clock jumps to the earliest wake. Each account's transport records what it sends and checks the
recipient can be reached by that account (a friend for a private message, present for a group one).
Targets: no reachability violation, every digest sent exactly once by the account it was routed to,
the last one out by 12:00 the same day, the busiest account's sends <= 1.3x the mean, at most
`send_hourly_cap` sends of an account in any hour, pushes of an account at least
`send_interval_min` apart. The settings are the defaults; a miss is printed with its reason.
`--check` exits 1 on any miss.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import random
import statistics
import sys
import tempfile
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

HERE = Path(__file__).resolve().parent
TZ = ZoneInfo("Asia/Shanghai")
# The first working day after the generator's data ends (Thursday 2026-12-10): a statutory
# working Monday, so the round starts at once.
JOB_AT = datetime(2026, 12, 14, 9, 30, tzinfo=TZ)
DEADLINE = JOB_AT.replace(hour=12, minute=0)
SEED = 20261214
RATIO_TARGET = 1.5
BALANCE_TARGET = 1.3
SHARED_ROOMS = 0.10  # share of active groups a second account is in too
TWO_FRIENDS = 0.35  # share of owners who are friends of two accounts
NO_FRIEND = 0.03  # share of owners who are nobody's friend


def audit_bench() -> ModuleType:
    """benchmarks/audit.py, whose generator and database helpers this benchmark reuses."""
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


# ---------------------------------------------------------------- the world


@dataclass
class World:
    """Who can reach whom, as built (the truth the transports check the routing against)."""

    accounts: list[str]
    presence: dict[str, set[str]] = field(default_factory=dict)  # room -> accounts in it
    friends: dict[str, set[str]] = field(default_factory=dict)  # owner -> accounts it befriended
    counts: dict[str, int] = field(default_factory=dict)


def _deal_owners(
    rooms: list[tuple[Any, ...]], members: list[tuple[Any, ...]], owners: int, rng: random.Random
) -> list[str]:
    """Re-deal the generated groups' owners to `owners` people, township by township (in place).

    A group's owner is its first member in the generator; that membership becomes the new
    owner's. A generated owner who is not a member (the "owner left" groups) is replaced by a
    dealt owner who is not a member either."""
    bench = audit_bench()
    cols = bench.ROOM_COLUMNS
    i_owner, i_by, i_reg = cols.index("owner_id"), cols.index("enrolled_by"), cols.index("registered_by")
    towns = max(1, len(rooms) // 40)  # as `generate` assigns them: room i is in township i % towns
    ids = [f"wxid_owner{k:05d}" for k in range(owners)]
    pools: dict[int, list[str]] = defaultdict(list)
    for k, who in enumerate(ids):
        pools[k % towns].append(who)
    for pool in pools.values():
        rng.shuffle(pool)
    by_room: dict[str, list[int]] = defaultdict(list)
    for j, m in enumerate(members):
        by_room[m[0]].append(j)
    for i, row in enumerate(rooms):
        old = row[i_owner]
        if old is None:
            continue
        pool = pools.get(i % towns) or ids
        new = pool[(i // towns) % len(pool)]
        values = list(row)
        for c in (i_owner, i_by, i_reg):
            if values[c] == old:
                values[c] = new
        rooms[i] = tuple(values)
        for j in by_room[row[0]]:
            if members[j][1] == old:
                members[j] = (members[j][0], new, *members[j][2:])
    return ids


def build(url: str, n_rooms: int, n_owners: int, n_accounts: int, seed: int = SEED) -> World:
    """A fresh database at `url` (an empty PostgreSQL database, or a SQLite file's URL) holding the
    fleet's world; returns what was built."""
    from sqlalchemy import select
    from sqlmodel import col

    from bot.core.config import Settings
    from storage import accounts as accounts_db
    from storage import directory as directory_db
    from storage.db import make_engine, session_scope
    from storage.migrate import upgrade
    from storage.models import Room

    room_limit = Settings.model_fields["room_limit"].default
    bench = audit_bench()
    rng = random.Random(seed)
    rooms, members, activity = bench.generate(n_rooms, seed)
    owner_ids = _deal_owners(rooms, members, n_owners, rng)
    engine = make_engine(url)
    try:
        upgrade(engine)
        if url.startswith("sqlite"):
            import sqlite3

            conn = sqlite3.connect(url.split("///", 1)[1])
            try:
                with conn:
                    conn.executemany(bench._insert_sql("room", bench.ROOM_COLUMNS), rooms)
                    conn.executemany(bench._insert_sql("membership", bench.MEMBER_COLUMNS), members)
                    conn.executemany(bench._insert_sql("dailyactivity", bench.ACTIVITY_COLUMNS), activity)
                conn.execute("ANALYZE")
            finally:
                conn.close()
        else:
            bench._fill_postgres(url, rooms, members, activity)
        world = World([f"wxid_bot{a:02d}" for a in range(n_accounts)])
        login = JOB_AT - timedelta(days=30)
        with session_scope(engine) as s:
            for a, account in enumerate(world.accounts):
                accounts_db.record_login(
                    s, account_id=account, name=f"清群助手{a + 1}", room_limit=room_limit, at=login
                )
        first_room: dict[str, str] = {}
        with session_scope(engine) as s:
            active = s.scalars(select(Room).where(col(Room.status) == "active").order_by(col(Room.id))).all()
            for room in active:
                primary = rng.choice(world.accounts)
                present = {primary}
                if rng.random() < SHARED_ROOMS:
                    present.add(rng.choice([a for a in world.accounts if a != primary]))
                for account in sorted(present, key=lambda a: a != primary):
                    accounts_db.enter_room(s, room=room, account_id=account, at=login)
                world.presence[room.id] = present
                if room.owner_id:
                    first_room.setdefault(room.owner_id, primary)
        with session_scope(engine) as s:
            for k, owner in enumerate(owner_ids):
                draw = rng.random()
                if draw < NO_FRIEND:
                    friends: set[str] = set()
                else:
                    # The account first invited into one of the owner's groups, and maybe another.
                    friends = {first_room.get(owner) or rng.choice(world.accounts)}
                    if draw < NO_FRIEND + TWO_FRIENDS:
                        friends.add(rng.choice([a for a in world.accounts if a not in friends]))
                directory_db.upsert_contact(
                    s,
                    contact_id=owner,
                    name=f"群主{k}",
                    unit=f"第{k % max(1, n_rooms // 40)}镇",
                    friend=bool(friends),
                )
                accounts_db.set_friends(s, contact_id=owner, account_ids=friends)
                world.friends[owner] = friends
    finally:
        engine.dispose()
    world.counts = {
        "rooms": len(rooms),
        "active": len(world.presence),
        "shared": sum(len(p) > 1 for p in world.presence.values()),
        "memberships": len(members),
        "activity": len(activity),
        "owners": len(owner_ids),
        "no_friend": sum(not f for f in world.friends.values()),
        "two_friends": sum(len(f) > 1 for f in world.friends.values()),
        "room_limit": room_limit,
    }
    return world


# ---------------------------------------------------------------- timing 1: compose and route


def _clear_round(engine: Any) -> None:
    """Forget a queued round (outbox rows and the job's digest events), so the job runs afresh."""
    from sqlalchemy import delete
    from sqlmodel import col

    from bot.digests.loading import DIGEST_LISTED
    from storage.db import session_scope
    from storage.models import EventLog, Outbox

    with session_scope(engine) as s:
        s.execute(delete(Outbox))
        s.execute(delete(EventLog).where(col(EventLog.kind) == DIGEST_LISTED))


def time_round(url: str, repeat: int) -> dict[str, Any]:
    """Alternate one audit and one digest job `repeat` times; the last job's round stays queued."""
    from bot.core.clock import VirtualClock
    from bot.core.config import load_settings
    from bot.digests.jobs import owner_digest_job
    from bot.services.audit import as_of, run_audit
    from bot.services.context import AppContext
    from storage.db import make_engine

    settings = load_settings(database_url=url)
    engine = make_engine(settings.db_url)
    services = AppContext(engine=engine, settings=settings, clock=VirtualClock(JOB_AT), seed=SEED)
    assert services.outbox._account() is None  # the leader: it only composes and routes
    audits: list[float] = []
    jobs: list[float] = []
    queued = 0
    try:
        run_audit(engine, services.rules, as_of(JOB_AT.date(), TZ), TZ)  # warm-up, not timed
        for r in range(repeat):
            t0 = time.perf_counter()
            run_audit(engine, services.rules, as_of(JOB_AT.date(), TZ), TZ)
            audits.append(time.perf_counter() - t0)
            if r:
                _clear_round(engine)
            t0 = time.perf_counter()
            queued = owner_digest_job(services, JOB_AT, force=True)
            jobs.append(time.perf_counter() - t0)
    finally:
        engine.dispose()
    ratios = [j / a for j, a in zip(jobs, audits, strict=True)]
    return {"audits": audits, "jobs": jobs, "ratio": statistics.median(ratios), "ratios": ratios,
            "queued": queued}  # fmt: skip


# ---------------------------------------------------------------- timing 2: deliver


@dataclass(frozen=True)
class Sent:
    account: str
    row_id: int
    at: datetime


class CheckingTransport:
    """One account's gateway: records each send, and whether that account could reach the recipient."""

    def __init__(self, account: str, world: World, now: Callable[[], datetime], log: list[Sent]) -> None:
        self.account, self.world, self.now, self.log = account, world, now, log
        self.violations: list[int] = []

    async def send(self, delivery: Any) -> None:
        if delivery.room_id is not None:
            ok = self.account in self.world.presence.get(delivery.room_id, set())
        else:
            ok = self.account in self.world.friends.get(delivery.recipient_id or "", set())
        if not ok:
            self.violations.append(delivery.row_id)
        self.log.append(Sent(self.account, delivery.row_id, self.now()))


def _constant(account: str) -> Callable[[], str | None]:
    return lambda: account


async def deliver(url: str, world: World, horizon: timedelta = timedelta(days=7)) -> dict[str, Any]:
    """Deliver the queued round: one outbox per account on one virtual clock."""
    from bot.core.clock import VirtualClock
    from bot.core.config import load_settings
    from bot.services.outbox import Outbox
    from storage.db import make_engine

    settings = load_settings(database_url=url)
    engine = make_engine(settings.db_url)
    clock = VirtualClock(JOB_AT)
    log: list[Sent] = []
    boxes: dict[str, Outbox] = {}
    transports: dict[str, CheckingTransport] = {}
    for k, account in enumerate(world.accounts):
        boxes[account] = Outbox(engine, clock, settings, seed=SEED + k, account=_constant(account))
        transports[account] = CheckingTransport(account, world, clock.now, log)
    wake: dict[str, datetime | None] = dict.fromkeys(world.accounts, JOB_AT)
    steps = 0
    t0 = time.perf_counter()
    try:
        while True:
            now = clock.now()
            for account in world.accounts:
                due = wake[account]
                if due is not None and due <= now:
                    wake[account] = await boxes[account].step(transports[account])
                    steps += 1
            pending = [w for w in wake.values() if w is not None]
            if not pending:
                break
            if min(pending) > JOB_AT + horizon:
                raise SystemExit(f"delivery did not finish within {horizon}")
            clock.advance_to(min(pending))
        rows = _rows(engine)
    finally:
        engine.dispose()
    return {"log": log, "rows": rows, "steps": steps, "seconds": time.perf_counter() - t0,
            "violations": [v for t in transports.values() for v in t.violations]}  # fmt: skip


Row = tuple[int, str, str | None, str, str | None, str | None, str]


def _rows(engine: Any) -> list[Row]:
    """(id, kind, account, status, recipient, room, mentions as JSON) of every outbox row."""
    from sqlalchemy import select
    from sqlmodel import col

    from storage.db import session_scope
    from storage.models import Outbox

    with session_scope(engine) as s:
        stmt = select(
            col(Outbox.id), col(Outbox.kind), col(Outbox.account_id), col(Outbox.status),
            col(Outbox.recipient_id), col(Outbox.room_id), col(Outbox.mentions),
        ).order_by(col(Outbox.id))  # fmt: skip
        return [(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]) for r in s.execute(stmt)]


def max_in_hour(times: list[datetime]) -> int:
    """The most sends within any closed hour [t, t + 1 h] (the cap's own window is as wide)."""
    ordered = sorted(times)
    return max((bisect_right(ordered, t + timedelta(hours=1)) - i for i, t in enumerate(ordered)), default=0)


def min_gap(times: list[datetime]) -> float | None:
    ordered = sorted(times)
    gaps = [(b - a).total_seconds() for a, b in pairwise(ordered)]
    return min(gaps) if gaps else None


# ---------------------------------------------------------------- report


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _local(at: datetime) -> str:
    return at.astimezone(TZ).strftime("%a %Y-%m-%d %H:%M:%S")


def report(world: World, timing: dict[str, Any], sent: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The printed lines after the build, and the names of the missed targets."""
    from bot.core.config import load_settings

    settings = load_settings()
    cap, gap_min = settings.send_hourly_cap, settings.send_interval_min
    lines: list[str] = []
    misses: list[str] = []

    def target(name: str, ok: bool, text: str) -> None:
        lines.append(f"{text} {_verdict(ok)}")
        if not ok:
            misses.append(name)

    rows = sent["rows"]
    digests = [r for r in rows if r[1] == "owner_digest"]
    private = [r for r in digests if r[5] is None]
    owners = {r[4] for r in private} | {m for r in digests if r[5] is not None for m in json.loads(r[6])}
    failed = [r for r in digests if r[3] != "sent"]
    lines.append(
        f"round: {len(digests):,} owner digests for {len(owners):,} of {world.counts['owners']:,} owners "
        f"({len(private):,} private, {len(digests) - len(private):,} @mentions in groups)"
    )
    jobs, audits = timing["jobs"], timing["audits"]
    lines.append(
        f"  audit (run_audit, same data and moment): {statistics.median(audits):7.3f}s"
        f"  (runs: {', '.join(f'{a:.3f}' for a in audits)})"
    )
    lines.append(
        f"  digest job (compose + route + queue)  : {statistics.median(jobs):7.3f}s"
        f"  (runs: {', '.join(f'{j:.3f}' for j in jobs)})"
    )
    target(
        "ratio",
        timing["ratio"] <= RATIO_TARGET,
        f"  ratio job/audit: {timing['ratio']:.2f} (median of {len(jobs)}; target <= {RATIO_TARGET:g})",
    )
    beyond = statistics.median(jobs) - statistics.median(audits)  # the job starts with the same audit
    per = beyond / len(digests) * 1000 if digests else 0.0
    lines.append(f"    beyond its audit the job took {beyond:.2f}s: {per:.2f} ms per digest queued")

    log: list[Sent] = sent["log"]
    by_account: dict[str, list[datetime]] = {a: [] for a in world.accounts}
    for s in log:
        by_account[s.account].append(s.at)
    times = Counter(s.row_id for s in log)
    routed = {r[0]: r[2] for r in rows}
    twice = sum(k > 1 for k in times.values())
    wrong_account = sum(routed.get(s.row_id) != s.account for s in log)
    lines.append(
        f"delivery ({len(world.accounts)} accounts, one virtual clock from {_local(JOB_AT)}; "
        f"{sent['steps']:,} outbox steps in {sent['seconds']:.1f}s of wall clock):"
    )
    target(
        "reachability",
        not sent["violations"] and not failed,
        f"  reachability violations: {len(sent['violations'])}, digests not sent: {len(failed)} (target 0)",
    )
    ok_once = twice == 0 and wrong_account == 0 and set(times) == {r[0] for r in digests}
    target(
        "exactly once",
        ok_once,
        f"  sent exactly once, by the routed account: {len(times):,} of {len(digests):,}"
        f" (twice: {twice}, another account: {wrong_account})",
    )
    last = max((s.at for s in log), default=JOB_AT)
    loads = {a: len(t) for a, t in by_account.items()}
    busiest = max(loads.values(), default=0)
    target(
        "deadline",
        last <= DEADLINE,
        f"  last digest out: {_local(last)} (target by {DEADLINE.astimezone(TZ):%H:%M})",
    )
    if last > DEADLINE:
        # The cap counts a rolling hour, so each account sends in hourly bursts from the job time.
        bursts = math.ceil((DEADLINE - JOB_AT) / timedelta(hours=1))
        need_accounts = math.ceil(len(digests) / (bursts * cap))
        lines.append(
            f"    why: {len(digests):,} digests / {len(world.accounts)} accounts = "
            f"{len(digests) / len(world.accounts):.0f} each (busiest {busiest}); at send_hourly_cap {cap} an "
            f"account sends in hourly bursts, {bursts} of which start before "
            f"{DEADLINE.astimezone(TZ):%H:%M}: at most {bursts * cap} each. The fleet sends "
            f"{cap * len(world.accounts):,}/h; meeting the target takes >= {need_accounts} accounts at "
            f"this cap, or a cap >= {math.ceil(busiest / bursts)} with {len(world.accounts)}"
        )
    mean = statistics.mean(loads.values()) if loads else 0.0
    balance = busiest / mean if mean else 0.0
    quiet = min(loads.values(), default=0)
    target(
        "balance",
        balance <= BALANCE_TARGET,
        f"  busiest account: {busiest} sends, mean {mean:.1f}, least {quiet}: "
        f"{balance:.2f}x the mean (target <= {BALANCE_TARGET:g}x)",
    )
    hourly = max((max_in_hour(t) for t in by_account.values()), default=0)
    target(
        "hourly cap",
        hourly <= cap,
        f"  most sends of one account in any hour: {hourly} (send_hourly_cap {cap})",
    )
    gaps = [g for t in by_account.values() if (g := min_gap(t)) is not None]
    smallest = min(gaps, default=None)
    shown = "n/a" if smallest is None else f"{smallest:.2f}s"
    target(
        "gap",
        smallest is None or smallest >= gap_min,
        f"  smallest gap between two sends of one account: {shown} (send_interval_min {gap_min:g}s)",
    )
    return lines, misses


def run(
    url: str, *, rooms: int, owners: int, accounts: int, repeat: int = 1, seed: int = SEED
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Build, time the round, deliver it; the printed lines, the misses and the raw results."""
    t0 = time.perf_counter()
    world = build(url, rooms, owners, accounts, seed)
    c = world.counts
    per_account = Counter(a for p in world.presence.values() for a in p)
    head = [
        f"world: {c['rooms']:,} groups ({c['active']:,} active, {c['shared']:,} with two accounts), "
        f"{c['memberships']:,} memberships, {c['activity']:,} activity rows; {c['owners']:,} owners "
        f"({c['two_friends']:,} friends of two accounts, {c['no_friend']:,} of none); "
        f"{len(world.accounts)} accounts in {min(per_account.values(), default=0)}-"
        f"{max(per_account.values(), default=0)} groups each (room_limit {c['room_limit']}); "
        f"built in {time.perf_counter() - t0:.1f}s "
        "(not timed)"
    ]
    timing = time_round(url, max(1, repeat))
    sent = asyncio.run(deliver(url, world))
    lines, misses = report(world, timing, sent)
    return head + lines, misses, {"world": world, "timing": timing, "sent": sent}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rooms", type=int, default=10_000, help="groups in the county")
    ap.add_argument("--owners", type=int, default=5_000, help="people who own them")
    ap.add_argument("--accounts", type=int, default=20, help="bot accounts of the fleet")
    ap.add_argument("--repeat", type=int, default=3, help="timed audit/job pairs; the median ratio counts")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--keep", type=Path, default=None, help="keep the SQLite file in this directory")
    ap.add_argument(
        "--database-url",
        default=None,
        help="measure on PostgreSQL: a server URL (postgresql://…); a fresh database is "
        "created on it and dropped at the end",
    )
    args = ap.parse_args(argv)
    if args.accounts < 2:
        ap.error("a fleet has at least two accounts")
    bench = audit_bench()
    name = "qq_bench_fleet"
    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url:
            url = bench.fresh_postgres_database(args.database_url, name)
        else:
            where = args.keep or Path(tmp)
            where.mkdir(parents=True, exist_ok=True)
            db = where / f"fleet_{args.rooms}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            url = f"sqlite:///{db}"
        try:
            lines, misses, _ = run(
                url,
                rooms=args.rooms,
                owners=args.owners,
                accounts=args.accounts,
                repeat=args.repeat,
                seed=args.seed,
            )
        finally:
            if args.database_url:
                bench.drop_postgres_database(args.database_url, name)
    for line in lines:
        print(line)
    if misses:
        print("missed: " + ", ".join(misses))
    return 1 if args.check and misses else 0


if __name__ == "__main__":
    logger.remove()  # the job's info lines would interleave with the figures; warnings still show
    logger.add(sys.stderr, level="WARNING")
    sys.exit(main())
