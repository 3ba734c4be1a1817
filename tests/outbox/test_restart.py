"""SIGKILL during a digest send, restart: nobody gets the digest twice, nobody is skipped."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from outbox_proc import delivered, finish, kill, sending_rows, start, statuses, wait_for
from outbox_worker import seed


def test_kill_during_send_then_restart(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'q.db'}"
    log = tmp_path / "delivered.jsonl"
    owners = seed(db, owners=6)

    first = start("deliver", db, str(log), "--ack-delay", "0.5")
    # Kill while a row is `sending` and its message already reached the (fake) gateway.
    wait_for(
        "a digest mid-send after two were delivered",
        lambda: len(delivered(log)) >= 2
        and bool(sending_rows(db) & {int(str(d["row"])) for d in delivered(log)}),
    )
    kill(first)
    killed_at = len(delivered(log))
    assert killed_at < len(owners), "the first run must not have finished"
    assert "sending" in statuses(db).values()

    second = start("deliver", db, str(log), "--ack-delay", "0.05")
    finish(second)

    got = Counter(str(d["to"]) for d in delivered(log))
    assert set(got) == set(owners), "every owner got the digest"
    assert all(n == 1 for n in got.values()), f"someone got it twice: {got}"
    assert set(statuses(db).values()) == {"sent"}
