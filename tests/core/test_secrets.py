"""No secret reaches a log line: the gateway token (python-wechaty prints it), database passwords,
and the variable values loguru would otherwise print beside a traceback."""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from bot.core.config import load_settings
from bot.core.logs import protect, protect_url, redact, setup_logging
from storage.db import DatabaseError, make_engine, mask_url

TOKEN = "tok-CANARY-7d1e9b"
PASSWORD = "pw-CANARY-41c2aa"


def _with_password(url: str, password: str) -> str:
    """postgresql://user@host/db -> postgresql://user:password@host/db (trust auth ignores it)."""
    scheme, _, rest = url.partition("://")
    user, _, host = rest.partition("@")
    return f"{scheme}://{user}:{password}@{host}"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    setup_logging("INFO", stream=buf)
    try:
        yield buf
    finally:
        setup_logging("INFO")


def test_a_failing_handler_logs_its_traceback_without_values(captured: io.StringIO) -> None:
    url = f"postgresql://postgres:{PASSWORD}@db.example:5432/qingqun"
    # Never passed to protect(): only the absence of variable values keeps it out.
    token = "tok-CANARY-never-registered"
    settings = load_settings(database_url=url, gateway_token=token)

    def handler(config: object) -> None:
        secret_copy = f"{settings.database_url}|{settings.gateway_token}"
        raise LookupError(len(secret_copy), config)

    try:
        handler(settings)
    except LookupError:
        logger.exception("handler for message failed; the bot keeps going")
    out = captured.getvalue()
    assert "Traceback" in out
    assert "LookupError" in out
    assert "handler(settings)" in out  # the source line is shown, its values are not
    assert PASSWORD not in out
    assert token not in out


def test_library_records_are_redacted(captured: io.StringIO) -> None:
    protect(TOKEN)
    # python-wechaty's own WARNING, through the stdlib logging bridge.
    logging.getLogger("PuppetService").warning(
        "there are endpoint<127.0.0.1:8788> and token<%s>, and the endpoint will be used", "other-token-x1"
    )
    logging.getLogger("PuppetService").warning("tokens from options[adopted]<%s>", TOKEN)
    logger.error("cannot connect to postgresql+psycopg://u:{}@h:5432/d", PASSWORD)
    out = captured.getvalue()
    assert "token<***>" in out
    assert "other-token-x1" not in out
    assert TOKEN not in out
    assert PASSWORD not in out
    assert "postgresql+psycopg://u:***@h:5432/d" in out


def test_redact_and_mask_url() -> None:
    protect_url(f"postgresql://postgres:{PASSWORD}@h/d")
    assert PASSWORD not in redact(f"the password is {PASSWORD}")
    assert redact("password=abc host=h") == "password=*** host=h"
    assert redact("gateway_token='abc'") == "gateway_token='***'"
    assert mask_url("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db"
    assert mask_url("not a url://") == "not a url://"
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_settings_repr_hides_the_url_and_token() -> None:
    s = load_settings(database_url=f"postgresql://u:{PASSWORD}@h/d", gateway_token=TOKEN)
    for shown in (repr(s), str(s)):
        assert PASSWORD not in shown
        assert TOKEN not in shown


def test_unreachable_database_error_masks_the_password() -> None:
    with pytest.raises(DatabaseError) as err:
        make_engine(f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/qingqun")
    assert PASSWORD not in str(err.value)
    assert "postgres:***@127.0.0.1:1" in str(err.value)
    with pytest.raises(DatabaseError) as err:
        make_engine(f"mysql://root:{PASSWORD}@h/d")
    assert PASSWORD not in str(err.value)


# ---------------------------------------------------------------- `qingqun run`, a real process


class _FailingGateway:
    """A TCP listener that accepts connections and closes them: the gRPC client gets nowhere."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def _env(tmp_path: Path, db: str, endpoint: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QINGQUN_GATEWAY_ENDPOINT=endpoint,
        QINGQUN_GATEWAY_TOKEN=TOKEN,
        QINGQUN_DATABASE_URL=db,
        QINGQUN_DATA_DIR=str(tmp_path / "data"),
        CACHE_DIR=str(tmp_path / "wechaty-cache"),
    )
    return env


def _wait_for(path: Path, needle: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in path.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False


def test_qingqun_run_logs_neither_token_nor_password(tmp_path: Path, pg_url: str) -> None:
    db = _with_password(pg_url, PASSWORD)
    gateway = _FailingGateway()
    log = tmp_path / "run.log"
    try:
        with log.open("w") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"],
                env=_env(tmp_path, db, f"127.0.0.1:{gateway.port}"),
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        try:
            # python-wechaty's "there are endpoint<…> and token<…>" line, as it reaches our log.
            seen = _wait_for(log, "token<", 60)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        gateway.close()
    out = log.read_text(errors="replace")
    assert seen, out[-3000:]
    assert "token<***>" in out
    assert TOKEN not in out, out[-3000:]
    assert PASSWORD not in out, out[-3000:]


def test_qingqun_run_with_an_unreachable_database_masks_the_password(tmp_path: Path) -> None:
    db = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/qingqun"
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        env=_env(tmp_path, db, "127.0.0.1:1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("qingqun: error: cannot reach database postgresql+psycopg://postgres:***@")
    assert PASSWORD not in proc.stdout + proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
