"""Commands run off the event loop: a slow one holds up neither counting, nor sending, nor
anybody else's answers, and each sender's replies keep the order of their commands."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from bot.app import App
from bot.commands.kit import Ctx, Reply
from bot.commands.registry import REGISTRY, CommandSpec
from bot.core.clock import SystemClock
from bot.core.config import load_settings
from bot.sim.puppet import SentMessage, SimPuppet, SimRoom
from bot.transport.adapter import WechatyAdapter
from bot.transport.guard import repair_wire_event
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import DailyActivity

BOT = "qingqun-bot"
ROOM = "r1@chatroom"


async def _until(check: Callable[[], bool]) -> None:
    """Poll the condition while the loop keeps running (events, outbox); give up after 15 s."""
    async with asyncio.timeout(15):
        # Polling on purpose: the conditions are other components' state, with no event to await.
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_a_slow_command_blocks_neither_counting_nor_sending_nor_other_senders(tmp_path: Path) -> None:
    release = threading.Event()
    entered = threading.Event()

    def slow(ctx: Ctx, args: list[str]) -> Reply:
        entered.set()
        # Blocks its worker thread until the test has looked at everything else.
        assert release.wait(30), "the test never released the slow command"
        return Reply("慢指令完成")

    table = REGISTRY.with_spec(
        CommandSpec("slow", "慢查询", (), "private", "anyone", "慢查询", "慢查询", "测试用", slow)
    )
    settings = load_settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'q.db'}",
        quiet_hours=False,
        send_interval_min=0.01,
        send_interval_max=0.02,
    )
    engine = make_engine(settings.db_url)
    upgrade(engine)
    clock = SystemClock()
    app = App(engine=engine, settings=settings, clock=clock, seed=0, registry=table)
    puppet = SimPuppet(
        BOT, "清群助手", clock.now,
        wire_guard=lambda kind, payload: repair_wire_event(kind, payload, clock.now().timestamp()),
    )  # fmt: skip
    puppet.add_contact("zhang", "张三")
    puppet.add_contact("li", "李四")
    puppet.add_room(SimRoom(ROOM, "黑龙潭镇值班群", "zhang", ["zhang", "li", BOT], ["zhang"]))
    adapter = WechatyAdapter(app, puppet)
    bot_task = await adapter.start()

    async def deliver() -> None:
        while True:
            await app.outbox.step(adapter)
            await asyncio.sleep(0.01)

    sender = asyncio.create_task(deliver())
    try:
        await asyncio.wait_for(adapter.logged_in.wait(), timeout=30)

        def counted() -> int:
            """Messages counted for the room: written already, or held by the recorder."""
            with session_scope(engine) as s:
                written = s.exec(select(func.coalesce(func.sum(DailyActivity.messages), 0))).one()
            return int(written) + app.recorder.pending

        def replies_to(who: str) -> list[SentMessage]:
            return [m for m in puppet.sent if m.to_id == who]

        puppet.say("zhang", "慢查询")
        await _until(entered.is_set)
        puppet.say("zhang", "帮助")  # must wait for zhang's slow command
        puppet.say("li", "帮助")  # must not
        for _ in range(5):
            puppet.say("li", "收到", room_id=ROOM)
        # While the slow command holds its thread: li is answered and the room messages counted.
        await _until(lambda: len(replies_to("li")) == 1)
        await _until(lambda: counted() == 5)
        assert replies_to("zhang") == []
        assert not release.is_set()

        release.set()
        await _until(lambda: len(replies_to("zhang")) == 2)
        first, second = (m.text for m in replies_to("zhang"))
        assert first == "慢指令完成"
        assert second.startswith("私聊我发送")  # the help text, answered second
        await app.router.commands.drain()
    finally:
        release.set()
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        await adapter.stop(bot_task)
        engine.dispose()
