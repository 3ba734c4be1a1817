"""Refusals in a group are rationed: a crowd sending commands it may not use gets a handful of
answers, the rest are logged as suppressed, and the owner's own command is still answered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.commands.dispatch import ROOM_REFUSALS_PER_HOUR, dispatch
from bot.core.clock import VirtualClock
from bot.core.config import load_settings
from bot.core.domain import ChatMessage, RoomSnapshot
from bot.services.roster import Person, Roster
from storage import approvals as approvals_db
from storage import outbox as outbox_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

START = datetime(2026, 11, 2, 1, 2, tzinfo=UTC)  # Monday 09:02 in Shanghai
R1 = "r1@chatroom"
MEMBERS = [f"m{i:03d}" for i in range(100)]


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    cfg = load_settings(data_dir=tmp_path, database_url=db_url)
    engine = make_engine(cfg.db_url)
    upgrade(engine)
    a = App(engine=engine, settings=cfg, clock=VirtualClock(START), seed=0)
    a.bot_id = "bot"
    a.apply_roster(Roster(units=[("黑龙潭镇", None)], people=[Person("zhang", "张三", "黑龙潭镇")]))
    a.bot_invited(RoomSnapshot(R1, "2026年冬季征兵工作群", "zhang", ("zhang", *MEMBERS)), "zhang", START)
    yield a
    engine.dispose()


def _say(app: App, talker: str, text: str, at: datetime, room: str | None = R1) -> None:
    dispatch(app.ctx, ChatMessage(room_id=room, talker_id=talker, at=at, command_text=text))


def _room_replies(app: App) -> list[tuple[list[str], str]]:
    """(mentions, text) of the replies queued into the group."""
    with session_scope(app.engine) as s:
        rows = outbox_db.outbox_rows(s)
    return [(json.loads(r.mentions), r.text) for r in rows if r.room_id == R1 and r.kind == "reply"]


def test_a_hundred_members_flooding_status_get_a_handful_of_refusals(app: App) -> None:
    """100 members × 10 "@清群助手 状态" in one minute, and the owner's 登记 in the middle."""
    step = timedelta(seconds=60) / 1000
    n = 0
    for _round in range(10):
        for member in MEMBERS:
            _say(app, member, "状态", START + n * step)
            n += 1
            if n == 500:
                _say(app, "zhang", "登记 临时 12月31日 征兵体检", START + n * step)

    replies = _room_replies(app)
    refusals = [text for _, text in replies if text.startswith("抱歉，只有群主")]
    assert len(refusals) == ROOM_REFUSALS_PER_HOUR  # a handful, not a thousand
    assert [text for _, text in replies if text.startswith("已登记")] == [
        "已登记：临时群，截止 2026-12-31（周四），单位 黑龙潭镇，用途 征兵体检。到期后请及时解散本群。"
    ]
    with session_scope(app.engine) as s:
        log = approvals_db.command_log(s)
    status = [e for e in log if e.command == "status"]
    assert len(status) == 1000
    assert all(e.outcome == "refused" for e in status)
    assert sum(e.reason == "suppressed:not_manager" for e in status) == 1000 - ROOM_REFUSALS_PER_HOUR


def test_one_refusal_a_day_per_person_and_a_few_an_hour_per_group(app: App) -> None:
    def refused() -> int:
        return sum(text.startswith("抱歉") for _, text in _room_replies(app))

    _say(app, "m001", "状态", START)
    _say(app, "m001", "状态", START + timedelta(hours=2))  # same person, same day: logged only
    assert refused() == 1
    for i, member in enumerate(MEMBERS[2:6]):  # four more people within the hour
        _say(app, member, "状态", START + timedelta(hours=3, minutes=i))
    assert refused() == 1 + ROOM_REFUSALS_PER_HOUR
    _say(app, "m006", "状态", START + timedelta(hours=4, minutes=5))  # the hour has passed
    assert refused() == 2 + ROOM_REFUSALS_PER_HOUR
    _say(app, "m001", "状态", START + timedelta(days=1))  # a new day
    assert refused() == 3 + ROOM_REFUSALS_PER_HOUR
    # The owner is always answered, however many refusals went before.
    _say(app, "zhang", "登记", START + timedelta(days=1, seconds=1))
    _say(app, "zhang", "登记 临时", START + timedelta(days=1, seconds=2))
    assert refused() == 3 + ROOM_REFUSALS_PER_HOUR
    owner = [(mentions, text) for mentions, text in _room_replies(app) if text.startswith("缺少")]
    assert [mentions for mentions, _ in owner] == [["zhang"], ["zhang"]]
    # Private refusals are not rationed.
    _say(app, "m001", "批准 1", START + timedelta(days=1, seconds=3), room=None)
    _say(app, "m001", "批准 1", START + timedelta(days=1, seconds=4), room=None)
    with session_scope(app.engine) as s:
        private = [r for r in outbox_db.outbox_rows(s) if r.recipient_id == "m001"]
    assert len(private) == 2


def test_help_from_members_shares_the_ration(app: App) -> None:
    for i, member in enumerate(MEMBERS[:20]):
        _say(app, member, "帮助", START + timedelta(seconds=i))
    _say(app, "m000", "状态", START + timedelta(seconds=30))
    replies = _room_replies(app)
    assert len(replies) == ROOM_REFUSALS_PER_HOUR
    assert all(text.startswith("在群里@清群助手发送") for _, text in replies)
    _say(app, "zhang", "帮助", START + timedelta(seconds=40))  # the owner is answered
    assert len(_room_replies(app)) == ROOM_REFUSALS_PER_HOUR + 1
    with session_scope(app.engine) as s:
        reasons = [e.reason for e in approvals_db.command_log(s)]
    assert reasons.count("suppressed:reply") == 20 - ROOM_REFUSALS_PER_HOUR
    assert reasons.count("suppressed:not_manager") == 1
