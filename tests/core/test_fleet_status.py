"""`qingqun status` lists every bot account of the fleet: rooms, limit, friends, sends, login."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from storage import accounts as accounts_db
from storage import instances as instances_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import Instance, Outbox


def _instance(instance_id: str, account: str, *, logged_in: bool, updated_at: datetime) -> Instance:
    return Instance(
        id=instance_id, host="host", pid=1, account=account, logged_in=logged_in, connected=True,
        logged_out_since=None if logged_in else updated_at, last_event_at=updated_at, leader=logged_in,
        started_at=updated_at, updated_at=updated_at,
    )  # fmt: skip


def _fleet(url: str, *, b_instance: Instance) -> None:
    """Two accounts: wxid_a in 2 active rooms (plus a dissolved one) of 300, 2 friends, 2 sends in
    the last hour; wxid_b in 9 of 10 (near its limit), 1 friend, no recent sends."""
    now = datetime.now(UTC)
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as s:
        accounts_db.record_login(s, account_id="wxid_a", name="清群助手", room_limit=300, at=now)
        accounts_db.record_login(s, account_id="wxid_b", name="清群助手2", room_limit=10, at=now)
        for n in range(1, 11):
            room, _ = rooms_db.enrol_room(
                s, room_id=f"r{n}@chatroom", topic=f"工作群{n}", owner_id="zhang", admin_ids=(),
                member_ids=("zhang",), by="zhang", at=now - timedelta(days=1),
            )  # fmt: skip
            if n <= 9:
                accounts_db.enter_room(s, room=room, account_id="wxid_b", at=now)
            if n <= 2 or n == 10:
                accounts_db.enter_room(s, room=room, account_id="wxid_a", at=now)
            if n == 10:
                room.status = "dissolved"
        accounts_db.note_friendship(s, contact_id="zhang", account_id="wxid_a", friend=True)
        accounts_db.note_friendship(s, contact_id="li", account_id="wxid_a", friend=True)
        accounts_db.note_friendship(s, contact_id="li", account_id="wxid_b", friend=True)
        for key, account, ago in (("x1", "wxid_a", 5), ("x2", "wxid_a", 50), ("x3", "wxid_a", 120)):
            at = now - timedelta(minutes=ago)
            s.add(Outbox(dedupe_key=key, recipient_id="zhang", account_id=account, status="sent", sent_at=at))
        instances_db.upsert_instance(s, row=_instance("host:1:1", "wxid_a", logged_in=True, updated_at=now))
        instances_db.upsert_instance(s, row=b_instance)
    engine.dispose()


def test_status_json_lists_each_account(cli, db_url: str) -> None:  # type: ignore[no-untyped-def]
    stale = datetime.now(UTC) - timedelta(minutes=10)  # no heartbeat for a while: not running
    _fleet(db_url, b_instance=_instance("host:2:1", "wxid_b", logged_in=True, updated_at=stale))
    code, out = cli("status", "--db", db_url, "--json", "--check")
    data = json.loads(out)
    assert code == 0, out  # a nearly full account is a warning, not a failed check
    assert data["healthy"] is True
    assert data["rooms_active"] == 9
    assert len(data["instances"]) == 2
    assert data["accounts"] == [
        {"account": "wxid_a", "name": "清群助手", "rooms": 2, "room_limit": 300, "friends": 2,
         "sent_last_hour": 2, "logged_in": True, "near_limit": False},
        {"account": "wxid_b", "name": "清群助手2", "rooms": 9, "room_limit": 10, "friends": 1,
         "sent_last_hour": 0, "logged_in": None, "near_limit": True},
    ]  # fmt: skip


def test_status_text_has_a_line_per_account_and_warns_near_the_limit(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'q.db'}"
    now = datetime.now(UTC)
    _fleet(url, b_instance=_instance("host:2:1", "wxid_b", logged_in=False, updated_at=now))
    code, out = cli("status", "--db", url, "--check")
    assert code == 0, out
    lines = out.splitlines()
    assert "机器人账号 清群助手（wxid_a）：在 2/300 个群，好友 2 人，近一小时发送 2 条，已登录" in lines
    assert "机器人账号 清群助手2（wxid_b）：在 9/10 个群，好友 1 人，近一小时发送 0 条，未登录" in lines
    assert "注意：账号 清群助手2 已加入 9/10 个群（90%），请增加机器人账号" in lines
    assert sum("请增加机器人账号" in line for line in lines) == 1
    assert "状态：正常" in lines


def test_a_database_without_accounts_says_so(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'q.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    _, out = cli("status", "--db", url, "--json")
    assert json.loads(out)["accounts"] == []
    _, out = cli("status", "--db", url)
    assert "机器人账号：暂无" in out.splitlines()
