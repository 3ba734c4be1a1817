"""The bot account as this process sees it: connection, login, the login QR code.

The transport updates it; the heartbeat (bot/runtime/heartbeat.py) writes it to the database
for `qingqun status`; login and logout are also recorded in the event log.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import segno
from loguru import logger

QR_FILE = "login-qr.png"
SCAN_HINT = "请用机器人微信号扫码登录"


@dataclass
class AccountState:
    """Mutable, owned by the event loop's thread."""

    account: str | None = None
    connected: bool = False
    logged_in: bool = False
    logged_out_since: datetime | None = None
    last_event_at: datetime | None = None
    qr_url: str | None = None

    def event(self, at: datetime) -> None:
        """Something came from the gateway: it is there."""
        self.connected = True
        self.last_event_at = at


def show_login_qr(url: str, data_dir: Path, out: TextIO | None = None) -> Path:
    """Print the login QR code as text blocks, save it as a PNG in the data dir, log its URL.

    The URL is a login link for the bot's own account, not personal data of anyone else; the
    PNG is written readable by the owner only, like the database.
    """
    qr = segno.make(url, error="m")
    text = io.StringIO()
    qr.terminal(out=text, compact=True)
    stream = out or sys.stdout
    stream.write(f"\n{SCAN_HINT}：\n{text.getvalue()}\n")
    stream.flush()
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / QR_FILE
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=8, border=4)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf.getvalue())
    logger.warning("{}：二维码已保存到 {}；登录链接 {}", SCAN_HINT, path, url)
    return path
