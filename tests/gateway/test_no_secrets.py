"""`qingqun run` against the official gateway with canary token and database password: a table
goes missing under the running bot, its event handlers fail, and neither canary reaches the log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import GatewayHarness

pytestmark = pytest.mark.gateway

TOKEN = "gw-tok-CANARY-59ab0f"
PASSWORD = "gw-pw-CANARY-e3d1c7"


def _wait(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_failing_handlers_under_the_official_gateway_log_no_secret(tmp_path: Path, pg_url: str) -> None:
    avail = GatewayHarness.available()
    if not avail:
        if os.environ.get("CI"):
            pytest.fail(f"gateway test must run under CI: {avail.reason}")
        pytest.skip(avail.reason)
    scheme, _, rest = pg_url.partition("://")
    user, _, host = rest.partition("@")
    db = f"{scheme}://{user}:{PASSWORD}@{host}"  # the test server trusts loopback: ignored, but present
    log = tmp_path / "qingqun.log"
    with GatewayHarness(tmp_path / "gw", token=TOKEN, step_ms=300) as gw:
        env = dict(os.environ)
        env.update(
            QINGQUN_GATEWAY_ENDPOINT=gw.endpoint,
            QINGQUN_GATEWAY_TOKEN=TOKEN,
            QINGQUN_DATABASE_URL=db,
            QINGQUN_DATA_DIR=str(tmp_path / "data"),
            CACHE_DIR=str(tmp_path / "wechaty-cache"),
            QINGQUN_QUIET_HOURS="false",
        )
        with log.open("w") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"], env=env, stdout=fh, stderr=subprocess.STDOUT
            )
        try:
            gw.wait_login(60)
            _wait(lambda: "backfilled 3 room(s)" in log.read_text(), 60, "the login backfill")
            # A table goes missing under the running bot: every join and topic event now fails.
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute("DROP TABLE eventlog")
            gw.trigger()
            gw.wait_script_done(60)
            _wait(lambda: "handler for room-topic failed" in log.read_text(), 30, "the failing handler")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    out = log.read_text(errors="replace")
    assert "Traceback" in out  # the failure is logged, with its stack
    assert "token<***>" in out  # python-wechaty's own token line, redacted
    assert TOKEN not in out, out[-3000:]
    assert PASSWORD not in out, out[-3000:]
    assert "[SQL parameters hidden" in out or "parameters:" not in out
