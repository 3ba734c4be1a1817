"""The connection to the gateway: reconnecting by itself, the whole login path on every login,
absence from the room list that is not yet removal, and the login QR code."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from wechaty_puppet.schemas.event import ScanStatus

from bot.app import App
from bot.core.clock import SystemClock
from bot.core.config import load_settings
from bot.sim.puppet import SimPuppet, SimRoom
from bot.transport.adapter import WechatyAdapter
from bot.transport.guard import repair_wire_event
from storage import eventlog as eventlog_db
from storage import outbox as outbox_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

BOT = "qingqun-bot"


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        # Polling on purpose: the conditions are other components' state, with no event to await.
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@dataclass
class Live:
    app: App
    puppet: SimPuppet
    adapter: WechatyAdapter
    task: asyncio.Task[None]

    def room(self, room_id: str) -> tuple[str, object] | None:
        with session_scope(self.app.engine) as s:
            r = rooms_db.get_room(s, room_id=room_id)
            return None if r is None else (r.status, r.missing_since)

    def events(self, kind: str) -> int:
        with session_scope(self.app.engine) as s:
            return len(eventlog_db.events_of_kind(s, kind=kind))

    def greetings(self) -> list[str | None]:
        with session_scope(self.app.engine) as s:
            return [o.room_id for o in outbox_db.outbox_rows(s) if o.kind == "greeting"]


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    settings = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'q.db'}")
    engine = make_engine(settings.db_url)
    upgrade(engine)
    clock = SystemClock()
    app = App(engine=engine, settings=settings, clock=clock, seed=0)
    puppet = SimPuppet(
        BOT, "清群助手", clock.now,
        wire_guard=lambda kind, payload: repair_wire_event(kind, payload, clock.now().timestamp()),
    )  # fmt: skip
    for cid, name in (("zhang", "张三"), ("li", "李四")):
        puppet.add_contact(cid, name)
    puppet.add_room(SimRoom("r1@chatroom", "黑龙潭镇值班群", "zhang", ["zhang", "li", BOT], ["zhang"]))
    adapter = WechatyAdapter(app, puppet)
    task = await adapter.start()
    try:
        await asyncio.wait_for(adapter.logged_in.wait(), timeout=20)
        yield Live(app, puppet, adapter, task)
    finally:
        await adapter.stop(task)
        engine.dispose()


async def test_a_dropped_connection_reconnects_and_runs_the_whole_login_path(live: Live) -> None:
    assert live.events("account_login") == 1
    assert live.greetings() == []  # the first login of a database greets nobody
    # While the gateway is away the bot is added to a new group.
    live.puppet.drop_connection()
    await _until(lambda: not live.adapter.logged_in.is_set())
    live.puppet.add_room(SimRoom("r2@chatroom", "新店镇迎检群", "li", ["li", "zhang", BOT], []))
    await asyncio.wait_for(live.adapter.logged_in.wait(), timeout=20)  # backoff starts at 1 s
    assert not live.task.done()
    assert live.events("account_login") == 2
    assert live.room("r2@chatroom") == ("active", None)
    assert live.greetings() == ["r2@chatroom"]  # added while away: greeted on the re-login
    # Messages after the reconnect are counted, once each (no doubled listeners).
    before = live.app.recorder.pending
    live.puppet.say("li", "收到", room_id="r1@chatroom")
    await _until(lambda: live.app.recorder.pending == before + 1)
    await asyncio.sleep(0.2)
    assert live.app.recorder.pending == before + 1


async def test_a_room_list_empty_at_login_marks_nothing_removed(live: Live) -> None:
    """A puppet still syncing lists no rooms; the real list a little later clears it all."""
    live.puppet.syncing = True
    live.puppet.drop_connection()
    await _until(lambda: not live.adapter.logged_in.is_set())
    await asyncio.wait_for(live.adapter.logged_in.wait(), timeout=20)
    status, missing = live.room("r1@chatroom")  # type: ignore[misc]
    assert status == "active"
    assert missing is not None  # unconfirmed, not removed
    assert "r1@chatroom" in live.app.active_rooms()
    live.puppet.syncing = False
    await live.adapter.check_rooms()  # the later check
    assert live.room("r1@chatroom") == ("active", None)
    assert live.events("missing_confirmed") == 0


async def test_a_room_still_missing_after_the_grace_counts_as_removed(live: Live) -> None:
    app = live.app
    start = app.clock.now()
    app.backfill([], start)
    assert live.room("r1@chatroom")[0] == "active"  # type: ignore[index]
    app.backfill([], start + timedelta(seconds=app.settings.removal_grace - 1))
    assert live.room("r1@chatroom")[0] == "active"  # type: ignore[index]
    app.backfill([], start + timedelta(seconds=app.settings.removal_grace))
    assert live.room("r1@chatroom") == ("removed", None)
    assert live.events("missing_confirmed") == 1


async def test_a_scan_shows_the_login_qr_once_per_code(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "https://login.weixin.qq.com/l/qingqun-test"
    for _ in range(2):  # the same code again: shown once
        live.adapter.bot.emit("scan", url, ScanStatus.Waiting, None)
        await asyncio.sleep(0.2)
    png = live.app.settings.data_dir / "login-qr.png"
    await _until(png.exists)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert oct(os.stat(png).st_mode & 0o777) == "0o600"
    out = capsys.readouterr().out
    assert out.count("请用机器人微信号扫码登录") == 1
    assert "█" in out or "▀" in out  # the code itself, as text blocks
    # A logout is recorded and leaves the bot waiting for a scan.
    live.adapter.bot.emit("logout", live.adapter.bot.Contact.load(BOT))
    await _until(lambda: live.events("account_logout") == 1)
    assert not live.app.ctx.account.logged_in
    assert live.app.ctx.account.logged_out_since is not None
