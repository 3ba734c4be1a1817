"""Run tests/outbox/outbox_worker.py in subprocesses and read what its transport delivered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlmodel import col

from storage.db import make_engine, session_scope
from storage.models import Outbox

WORKER = Path(__file__).with_name("outbox_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def start(mode: str, db: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QINGQUN_LOG_LEVEL="WARNING")
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, "--db", db, "--log", str(log), *extra],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def delivered(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_for(what: str, cond: Callable[[], bool], limit: float = 90.0) -> None:
    """Poll until `cond` holds; the limit only guards against a hung test, it asserts nothing about speed."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def sending_rows(db: str) -> set[int]:
    engine = make_engine(db)
    try:
        with session_scope(engine) as s:
            ids = s.execute(select(col(Outbox.id)).where(col(Outbox.status) == "sending")).scalars()
            return {int(i) for i in ids}
    finally:
        engine.dispose()


def statuses(db: str) -> dict[str, str]:
    engine = make_engine(db)
    try:
        with session_scope(engine) as s:
            rows = s.execute(select(col(Outbox.recipient_id), col(Outbox.status))
                             .where(col(Outbox.kind) == "owner_digest"))
            return {str(r): str(st) for r, st in rows}
    finally:
        engine.dispose()


def finish(proc: subprocess.Popen[bytes], limit: float = 120.0) -> None:
    try:
        _, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"worker {proc.pid} did not finish: {err.decode()[-2000:]}") from None
    assert proc.returncode == 0, err.decode()[-3000:]


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL, as a crash or the OOM killer would, and close our ends of its pipes."""
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
