"""Input hygiene at the transport edge: "@清群助手 …" typed without a real mention runs nothing and
gets one hint a day; control characters (NUL included) never reach storage or a reply."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from sqlmodel import select

from bot.app import App
from bot.core.clock import SystemClock
from bot.core.config import load_settings
from bot.core.textnorm import clean_name
from bot.sim.puppet import SentMessage, SimPuppet, SimRoom
from bot.transport.adapter import WechatyAdapter
from bot.transport.guard import repair_wire_event
from storage import approvals as approvals_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import Contact, Room, TopicChange

BOT = "qingqun-bot"
ROOM = "r1@chatroom"


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(15):
        # Polling on purpose: the conditions are other components' state, with no event to await.
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_a_typed_mention_runs_nothing_and_gets_one_hint_a_day(tmp_path: Path) -> None:
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
    app = App(engine=engine, settings=settings, clock=clock, seed=0)
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

        def in_room() -> list[SentMessage]:
            return [m for m in puppet.sent if m.room_id == ROOM]

        puppet.say("zhang", "@清群助手 登记 临时 12月31日 征兵体检", room_id=ROOM)  # typed, no mention
        puppet.say("li", "＠清群助手 状态", room_id=ROOM)  # full-width @, no mention either
        puppet.say("li", "大家好 @清群助手 在吗", room_id=ROOM)  # not at the start: ordinary chat
        await _until(lambda: len(in_room()) == 1)
        await app.router.commands.drain()
        [hint] = in_room()
        assert hint.text == (
            "请用微信的@功能从群成员中选中“清群助手”再发指令；手动输入的“@清群助手”不算@我，指令不会执行。"
        )
        assert "征兵体检" not in hint.text
        with session_scope(engine) as s:
            room = s.get(Room, ROOM)
            log = approvals_db.command_log(s)
        assert room is not None
        assert room.kind is None  # nothing ran
        assert sorted((e.sender_id, e.command, e.outcome, e.reason) for e in log) == [
            ("li", "unknown", "refused", "not_mentioned"),
            ("zhang", "unknown", "refused", "not_mentioned"),
        ]
        # A real mention still works, and the day's hint is not repeated.
        puppet.say("zhang", "@清群助手 登记 临时 12月31日 征兵体检", room_id=ROOM, mention_ids=[BOT])
        await _until(lambda: len(in_room()) == 2)
        assert in_room()[1].text.split(" ", 1)[1].startswith("已登记：临时群")
        puppet.say("li", "@清群助手 帮助", room_id=ROOM)
        await app.router.commands.drain()
        await asyncio.sleep(0.2)
        assert len(in_room()) == 2
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        await adapter.stop(bot_task)
        engine.dispose()


def test_clean_name() -> None:
    assert clean_name("黑龙潭镇\x00值班群") == "黑龙潭镇值班群"
    assert clean_name(" a\tb\nc\x07\x1b[31m ") == "a b c[31m"
    assert clean_name("群\u202e名") == "群名"  # a bidi override would reorder the echoed reply
    assert clean_name("👨\u200d👩\u200d👧 家长群") == "👨\u200d👩\u200d👧 家长群"  # emoji joiners stay
    assert clean_name("\ud800群") == "群"


def test_control_characters_never_reach_storage_or_replies(
    cli: Callable[..., tuple[int, str]], tmp_path: Path, db_url: str
) -> None:
    """On PostgreSQL a NUL in text is a DataError (the rename was lost); on SQLite it was stored and
    echoed. Names are cleaned where they enter: the adapter and the roster."""
    scenario = Path(__file__).parent / "data" / "control_characters.yaml"
    transcript = tmp_path / "t.jsonl"
    code, out = cli("simulate", str(scenario), "--db", db_url, "--transcript", str(transcript))
    assert code == 0, out
    sent = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()]
    assert sent
    assert all("\x00" not in m["text"] and "\x07" not in m["text"] for m in sent)
    status = [m["text"] for m in sent if "本月消息" in m["text"]]
    assert status
    assert status[0].split(" ", 1)[1].startswith("「黑龙潭镇值班群新名」")
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            room = s.get(Room, ROOM)
            assert room is not None
            assert room.topic == "黑龙潭镇值班群新名"
            names = {c.id: c.name for c in s.exec(select(Contact)).all()}
            changes = [(t.old_topic, t.new_topic) for t in s.exec(select(TopicChange)).all()]
    finally:
        engine.dispose()
    assert names["zhang"] == "张三"
    assert names["li"] == "李四"
    assert changes == [("黑龙潭镇值班群", "黑龙潭镇值班群新名")]
