"""The heartbeat of `qingqun run`: this process's state in the database, for `qingqun status`.

Every `heartbeat_interval` seconds it writes the account, login state, last gateway event and
leadership. An account logged out for longer than `logout_alert_after` is also said in the log,
once an hour at most.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from loguru import logger

from bot.services.context import AppContext
from storage import instances as instances_db
from storage.db import session_scope
from storage.models import Instance

ALERT_EVERY = timedelta(hours=1)


class Heartbeat:
    def __init__(self, services: AppContext, leading: Callable[[], bool]) -> None:
        self.services = services
        self.leading = leading
        self.started_at = services.clock.now()
        self.id = f"{socket.gethostname()}:{os.getpid()}:{int(self.started_at.timestamp())}"
        self._alerted_at: datetime | None = None

    def row(self) -> Instance:
        st = self.services.account
        return Instance(
            id=self.id,
            host=socket.gethostname(),
            pid=os.getpid(),
            account=st.account,
            logged_in=st.logged_in,
            logged_out_since=st.logged_out_since,
            connected=st.connected,
            last_event_at=st.last_event_at,
            leader=self.leading(),
            started_at=self.started_at,
            updated_at=self.services.clock.now(),
        )

    def beat(self, row: Instance) -> None:
        with session_scope(self.services.engine) as s:
            instances_db.upsert_instance(s, row=row)

    def alert_if_logged_out(self, now: datetime) -> bool:
        """Log (at most hourly) that the account has been logged out too long; True if it has."""
        since = self.services.account.logged_out_since
        limit = timedelta(seconds=self.services.settings.logout_alert_after)
        if self.services.account.logged_in or since is None or now - since <= limit:
            self._alerted_at = None
            return False
        if self._alerted_at is None or now - self._alerted_at >= ALERT_EVERY:
            self._alerted_at = now
            minutes = int((now - since).total_seconds() // 60)
            logger.error(
                "机器人账号已 {} 分钟未登录，请查看日志中的二维码或 {} 扫码登录（qingqun status 可查看状态）",
                minutes,
                self.services.settings.data_dir / "login-qr.png",
            )
        return True

    async def run(self) -> None:
        """Beat until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.beat, self.row())
            except Exception:
                logger.exception("heartbeat write failed; trying again")
            self.alert_if_logged_out(self.services.clock.now())
            await asyncio.sleep(self.services.settings.heartbeat_interval)

    def forget(self) -> None:
        """On a clean stop: this instance no longer runs."""
        with session_scope(self.services.engine) as s:
            instances_db.delete_instance(s, instance_id=self.id)
