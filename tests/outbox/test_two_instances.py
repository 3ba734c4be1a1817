"""Two processes on one PostgreSQL database produce each digest exactly once.

`lead`: both run bot.scheduler.Coordinator (advisory-lock leadership, APScheduler with the
SQLAlchemy job store firing every second); the leader is SIGKILLed mid-send and the other takes
over. `race`: a split brain — both run the digest job and deliver with no leadership at all; the
unique dedupe key and FOR UPDATE SKIP LOCKED alone keep every digest to one delivery.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from outbox_proc import delivered, finish, kill, sending_rows, start, statuses, wait_for
from outbox_worker import seed


def _once_each(log: Path, owners: list[str]) -> Counter[str]:
    got = Counter(str(d["to"]) for d in delivered(log))
    assert set(got) == set(owners), f"missing: {set(owners) - set(got)}"
    assert all(n == 1 for n in got.values()), f"delivered twice: {got}"
    return got


def test_leader_killed_follower_takes_over(pg_url: str, tmp_path: Path) -> None:
    log = tmp_path / "delivered.jsonl"
    owners = seed(pg_url, owners=8)
    procs = [start("lead", pg_url, log, "--ack-delay", "0.4", "--expected", "8") for _ in range(2)]
    wait_for(
        "the leader mid-send after two deliveries",
        lambda: len(delivered(log)) >= 2
        and bool(sending_rows(pg_url) & {int(str(d["row"])) for d in delivered(log)}),
    )
    senders = {int(str(d["pid"])) for d in delivered(log)}
    assert len(senders) == 1, "only the leader delivers"
    leader = next(p for p in procs if p.pid in senders)
    follower = next(p for p in procs if p is not leader)
    kill(leader)
    finish(follower)

    _once_each(log, owners)
    pids = [int(str(d["pid"])) for d in delivered(log)]
    assert follower.pid in pids, "the follower took over"
    assert set(statuses(pg_url).values()) == {"sent"}


def test_split_brain_still_once(pg_url: str, tmp_path: Path) -> None:
    log = tmp_path / "delivered.jsonl"
    owners = seed(pg_url, owners=8)
    procs = [start("race", pg_url, log, "--ack-delay", "0.1") for _ in range(2)]
    for p in procs:
        finish(p)
    _once_each(log, owners)
    assert set(statuses(pg_url).values()) == {"sent"}
