"""`qingqun run` against the official gateway: scan -> login -> the gateway restarts -> recovery.

The gateway goes away for 10 s mid-run and comes back with the bot added to a new group. The
process must never exit, be connected again within 30 s of the gateway's return, enrol and
greet the new group, count the messages after the restart, and still stop within 5 s on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import GatewayHarness

pytestmark = pytest.mark.gateway


def _wait(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _messages(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COALESCE(SUM(messages), 0) FROM dailyactivity").fetchone()[0])


def _room_status(db: Path, room_id: str) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status FROM room WHERE id = ?", (room_id,)).fetchone()
    return None if row is None else str(row[0])


def test_scan_login_gateway_restart_and_recovery(tmp_path: Path) -> None:
    avail = GatewayHarness.available()
    if not avail:
        if os.environ.get("CI"):
            pytest.fail(f"gateway test must run under CI: {avail.reason}")
        pytest.skip(avail.reason)
    db = tmp_path / "gw.db"
    data = tmp_path / "data"
    log = tmp_path / "qingqun.log"
    with GatewayHarness(tmp_path / "gw", step_ms=200, env={"GATEWAY_SCAN": "1"}) as gw:
        env = dict(os.environ)
        env.update(
            QINGQUN_GATEWAY_ENDPOINT=gw.endpoint,
            QINGQUN_GATEWAY_TOKEN=gw.token,
            QINGQUN_DATABASE_URL=f"sqlite:///{db}",
            QINGQUN_DATA_DIR=str(data),
            CACHE_DIR=str(tmp_path / "wechaty-cache"),
            QINGQUN_QUIET_HOURS="false",
            QINGQUN_SEND_INTERVAL_MIN="0.2",
            QINGQUN_SEND_INTERVAL_MAX="0.4",
            QINGQUN_RECONNECT_MAX_DELAY="4",
        )
        with log.open("w") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"], env=env, stdout=fh, stderr=subprocess.STDOUT
            )
        try:
            gw.wait_login(60)
            _wait(lambda: "backfilled 3 room(s)" in log.read_text(), 60, "the first login")
            # The scan came first: the QR code is in the log, on the terminal and in the data dir.
            text = log.read_text()
            assert "请用机器人微信号扫码登录" in text
            assert "qingqun-conformance" in text
            assert (data / "login-qr.png").read_bytes()[:4] == b"\x89PNG"

            gw.restart(10, GATEWAY_EXTRA_ROOM="r9@chatroom")
            back = time.monotonic()
            gw.wait_login(60)
            assert time.monotonic() - back < 30, "not connected again within 30 s of the return"
            _wait(lambda: "backfilled 4 room(s)" in log.read_text(), 30, "the login after the restart")
            assert proc.poll() is None, "qingqun run exited while the gateway was away"
            assert _room_status(db, "r9@chatroom") == "active"
            # Added while away: greeted on the re-login, at once (a greeting is a reply).
            gw.wait_for("bot-said", 30, predicate=lambda e: e.get("room") == "r9@chatroom")

            before = _messages(db)
            gw.trigger()
            gw.wait_script_done(60)
            _wait(lambda: _messages(db) >= before + 5, 30, "the messages after the restart counted")
            assert proc.poll() is None
        finally:
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        assert code == 0, log.read_text()[-3000:]
        assert time.monotonic() - started < 5.5, "SIGTERM did not stop qingqun run within 5 s"
