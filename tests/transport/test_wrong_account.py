"""An instance serves one account (QINGQUN_ACCOUNT): a login as another stops it, recording nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import App
from bot.core.clock import SystemClock
from bot.core.config import load_settings
from bot.sim.puppet import SimPuppet, SimRoom
from bot.transport.adapter import WechatyAdapter
from storage import accounts as accounts_db
from storage import eventlog as eventlog_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade


async def _run(tmp_path: Path, account: str) -> tuple[WechatyAdapter, App]:
    settings = load_settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'q.db'}", account=account
    )
    engine = make_engine(settings.db_url)
    upgrade(engine)
    app = App(engine=engine, settings=settings, clock=SystemClock())
    puppet = SimPuppet("wxid_bot_two", "清群助手2", SystemClock().now)
    puppet.add_contact("zhang", "张三")
    puppet.add_room(SimRoom("r1@chatroom", "黑龙潭镇值班群", "zhang", ["zhang", "wxid_bot_two"], []))
    adapter = WechatyAdapter(app, puppet)
    task = await adapter.start()
    try:
        async with asyncio.timeout(20):
            # Polling: the outcome is the adapter's own state, with no event to await.
            while not task.done() and not adapter.logged_in.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    finally:
        await adapter.stop(task)
    return adapter, app


async def test_a_login_as_another_account_stops_the_instance(tmp_path: Path) -> None:
    adapter, app = await _run(tmp_path, account="wxid_bot_one")
    assert adapter.fatal is not None
    assert "wxid_bot_two" in adapter.fatal
    assert "wxid_bot_one" in adapter.fatal
    assert not adapter.logged_in.is_set()
    assert app.ctx.bot_id is None
    with session_scope(app.engine) as s:
        assert accounts_db.all_accounts(s) == []
        assert eventlog_db.events_of_kind(s, kind="account_login") == []
        assert rooms_db.all_rooms(s) == []
    app.engine.dispose()


async def test_the_configured_account_logs_in_and_is_recorded(tmp_path: Path) -> None:
    adapter, app = await _run(tmp_path, account="wxid_bot_two")
    assert adapter.fatal is None
    assert app.ctx.bot_id == "wxid_bot_two"
    with session_scope(app.engine) as s:
        (account,) = accounts_db.all_accounts(s)
        assert account.id == "wxid_bot_two"
        assert account.name == "清群助手2"
        assert accounts_db.present_accounts(s, room_id="r1@chatroom") == ["wxid_bot_two"]
        room = rooms_db.get_room(s, room_id="r1@chatroom")
        assert room is not None
        assert room.observer_id == "wxid_bot_two"
    app.engine.dispose()
