"""The supervisor digest and the bot fleet: nearly full accounts go to the top unit's supervisors,
and messages no account could reach read plainly among the failed sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.digests import loading, supervisor
from policies.rules import load_rules
from storage import accounts as accounts_db
from storage import directory as directory_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import Outbox, Room

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 18, 16, 30, tzinfo=TZ)  # Friday, the last working day of its week
NEAR = "机器人账号「清群助手2」已加入 9/10 个群，接近上限，请增加账号或把新群分给其他账号。"


def _world(url: str) -> loading.World:
    """A county over a township; 清群助手 in 1 of 300 groups, 清群助手2 in 9 of 10; a group
    message whose group no account is in any more and a private one nobody could send."""
    engine = make_engine(url)
    upgrade(engine)
    at = NOW - timedelta(days=3)
    with session_scope(engine) as s:
        directory_db.upsert_unit(s, name="青山县", parent=None)
        directory_db.upsert_unit(s, name="黑龙潭镇", parent="青山县")
        directory_db.upsert_contact(s, contact_id="liu", name="刘洋", unit="青山县", role="supervisor")
        directory_db.upsert_contact(s, contact_id="ma", name="马强", unit="黑龙潭镇", role="supervisor")
        directory_db.upsert_contact(s, contact_id="zhang", name="张伟", unit="黑龙潭镇")
        directory_db.upsert_contact(s, contact_id="wu", name="吴德军", unit="黑龙潭镇", friend=False)
        accounts_db.record_login(s, account_id="wxid_a", name="清群助手", room_limit=300, at=at)
        accounts_db.record_login(s, account_id="wxid_b", name="清群助手2", room_limit=10, at=at)
        for n in range(1, 11):
            room, _ = rooms_db.enrol_room(
                s, room_id=f"r{n}@chatroom", topic=f"黑龙潭镇工作群{n}", owner_id="zhang", admin_ids=(),
                member_ids=("zhang",), by="zhang", at=at,
            )  # fmt: skip
            accounts_db.enter_room(s, room=room, account_id="wxid_b" if n <= 9 else "wxid_a", at=at)
        s.add(Outbox(dedupe_key="room:r10|notice|x", text="x", room_id="r10@chatroom", account_id="wxid_a",
                     created_at=at))  # fmt: skip
        s.flush()
        r10 = s.get(Room, "r10@chatroom")
        assert r10 is not None
        assert accounts_db.leave_room(s, room=r10, account_id="wxid_a") is None  # nobody left to send it
        s.add(Outbox(dedupe_key="contact:wu|notice|x", text="x", recipient_id="wu", status="failed",
                     error=accounts_db.UNREACHABLE, created_at=at + timedelta(minutes=1)))  # fmt: skip
    world = loading.load_world(engine, load_rules(), NOW, TZ)
    engine.dispose()
    return world


def test_a_nearly_full_account_is_reported_to_the_top_units_supervisor_only(db_url: str) -> None:
    world = _world(db_url)
    assert [(a.account, a.rooms, a.near_limit) for a in world.accounts] == [
        ("wxid_a", 0, False),  # r10 is left: wxid_a is in no group now
        ("wxid_b", 9, True),
    ]
    county = supervisor.supervisor_digest(world, "liu")
    township = supervisor.supervisor_digest(world, "ma")
    assert county is not None
    assert township is not None
    (line,) = [x for x in county.text.splitlines() if "接近上限" in x]
    assert line.split(". ", 1)[1] == NEAR
    assert line.split(". ", 1)[0].isdigit()  # numbered like the other findings
    assert "清群助手」" not in county.text  # the account with room to spare is not named
    assert "接近上限" not in township.text


def test_unreachable_failures_read_plainly(db_url: str) -> None:
    world = _world(db_url)
    msg = supervisor.supervisor_digest(world, "ma")
    assert msg is not None
    assert (
        "近两周发送失败 2 条：群「黑龙潭镇工作群10」（已没有机器人账号在该群中），"
        "吴德军（没有机器人账号能联系到此人）。"
    ) in msg.text
    assert accounts_db.UNREACHABLE not in msg.text
