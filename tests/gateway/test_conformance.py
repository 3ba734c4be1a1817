"""`qingqun run` against the official TypeScript puppet-service gateway and mock puppet.

This proves the adapter speaks the real gRPC protocol, not only our in-process puppet.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import BOT_ID, GatewayHarness

pytestmark = pytest.mark.gateway


def _audit(db: str, env: dict[str, str]) -> dict[str, dict]:  # type: ignore[type-arg]
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", "--db", db, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return {r["room_id"]: r for r in json.loads(out)}


def _wait(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _queue_chart(db: str, tmp_path: Path) -> bytes:
    """Queue one chart (a real PNG from the report charts) for zhang before the bot starts."""
    from bot.core.clock import SystemClock
    from bot.core.config import load_settings
    from bot.reports import charts
    from bot.reports.outgoing import chart_message
    from bot.services.outbox import Outbox
    from storage.db import make_engine
    from storage.migrate import upgrade

    chart = charts.png_bytes(
        charts.labels_figure(charts.LabelChart("在用工作群标签", (charts.LabelCount("僵尸群", 2),), active=3))
    )
    engine = make_engine(db)
    try:
        upgrade(engine)
        box = Outbox(engine, SystemClock(), load_settings(database_url=db, data_dir=tmp_path / "data"))
        message = chart_message(recipient_id="zhang", kind="chart", period="w1", name="趋势图.png", png=chart)
        assert box.enqueue(message)
    finally:
        engine.dispose()
    return chart


def test_qingqun_run_against_the_official_gateway(tmp_path: Path) -> None:
    avail = GatewayHarness.available()
    if not avail:
        if os.environ.get("CI"):
            pytest.fail(f"gateway test must run under CI: {avail.reason}")
        pytest.skip(avail.reason)
    db = f"sqlite:///{tmp_path / 'gw.db'}"
    log = tmp_path / "qingqun.log"
    chart = _queue_chart(db, tmp_path)
    with GatewayHarness(tmp_path / "gw", step_ms=300) as gw:
        env = dict(os.environ)
        env.update(
            QINGQUN_GATEWAY_ENDPOINT=gw.endpoint,
            QINGQUN_GATEWAY_TOKEN=gw.token,
            QINGQUN_DATABASE_URL=db,
            QINGQUN_DATA_DIR=str(tmp_path / "data"),
            CACHE_DIR=str(tmp_path / "wechaty-cache"),
            QINGQUN_QUIET_HOURS="false",  # the mock world runs on any day; pacing still applies
            QINGQUN_SEND_INTERVAL_MIN="0.2",
            QINGQUN_SEND_INTERVAL_MAX="0.4",
        )
        with log.open("w") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"], env=env, stdout=fh, stderr=subprocess.STDOUT
            )
        try:
            gw.wait_login(60)
            _wait(lambda: "backfilled 3 room(s)" in log.read_text(), 60, "the login backfill")
            gw.trigger()
            gw.wait_script_done(60)
            _wait(lambda: any(m.get("room") == "r4@chatroom" for m in gw.bot_messages()), 30, "the greeting")
            _wait(lambda: _audit(db, env).get("r4@chatroom", {}).get("messages_30d") == 1, 30, "activity")
            _wait(lambda: bool(gw.bot_sent_other()), 30, "the queued chart")
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = proc.wait(timeout=10)
            assert code == 0, log.read_text()[-3000:]
            assert time.monotonic() - started < 5
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        rooms = _audit(db, env)
    output = log.read_text()
    assert "Traceback" not in output, output[-3000:]
    assert set(rooms) == {"r1@chatroom", "r2@chatroom", "r3@chatroom", "r4@chatroom"}
    r1, r2, r3, r4 = (rooms[f"r{i}@chatroom"] for i in range(1, 5))
    assert (r1["topic"], r1["owner_id"], r1["status"], r1["member_count"], r1["messages_30d"]) == (
        "黑龙潭镇党政办工作群",
        "zhang",
        "active",
        4,
        3,
    )  # zhao joined; li, zhang and zhao spoke
    assert (r2["topic"], r2["owner_id"], r2["member_count"], r2["messages_30d"]) == (
        "2024年冬季征兵工作群",
        "li",
        2,
        0,
    )  # renamed by li
    assert (r3["topic"], r3["owner_id"], r3["member_count"], r3["messages_30d"]) == (
        "迎检临时群",
        "wang",
        4,
        1,
    )
    assert (r4["topic"], r4["owner_id"], r4["status"], r4["member_count"], r4["messages_30d"]) == (
        "2026年冬季征兵工作群",
        "zhang",
        "active",
        3,
        1,
    )
    # The bot's greeting reached the mock puppet, in r4 only, without @所有人.
    said = [m for m in gw.bot_messages() if "从不保存聊天内容" in m["text"]]
    assert [m["room"] for m in said] == ["r4@chatroom"]
    assert not said[0].get("mentions")
    assert BOT_ID not in {r["owner_id"] for r in rooms.values()}
    # The chart queued before the start went out once, as a file, and arrived whole.
    (sent,) = gw.bot_sent_other()
    assert (sent["kind"], sent["to"], sent["room"], sent["name"], sent["mediaType"]) == (
        "file",
        "zhang",
        None,
        "趋势图.png",
        "image/png",
    )
    assert (sent["size"], sent["sha256"]) == (len(chart), hashlib.sha256(chart).hexdigest())
