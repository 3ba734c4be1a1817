"""Foundation scenarios through the real Wechaty class, checked through `qingqun audit --json`."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent / "data"


def _audit(cli, db: str, at: str = "2026-11-06") -> dict[str, dict]:  # type: ignore[no-untyped-def]
    code, out = cli("audit", "--db", db, "--at", at, "--json")
    assert code == 0
    return {row["room_id"]: row for row in json.loads(out)}


def test_core_scenario_records_every_event(cli, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    transcript = tmp_path / "t.jsonl"
    code, out = cli("simulate", str(DATA / "core.yaml"), "--db", db_url, "--transcript", str(transcript))
    assert code == 0, out
    rooms = _audit(cli, db_url)
    assert set(rooms) == {"r0@chatroom", "r1@chatroom", "r2@chatroom", "r3@chatroom"}

    def fields(rid: str) -> dict:  # type: ignore[type-arg]
        row = rooms[rid]
        return {
            k: row[k]
            for k in (
                "topic",
                "owner_id",
                "status",
                "kind",
                "end_date",
                "unit",
                "member_count",
                "messages_30d",
                "last_activity",
            )
        }

    # Backfilled at login: the bot was already a member.
    assert fields("r0@chatroom") == {
        "topic": "黑龙潭镇值班群",
        "owner_id": "li",
        "status": "active",
        "kind": None,
        "end_date": None,
        "unit": "黑龙潭镇",
        "member_count": 3,
        "messages_30d": 1,
        "last_activity": "2026-11-02T09:06:00+08:00",
    }
    assert rooms["r0@chatroom"]["enrolled_at"] == "2026-11-02T08:00:00+08:00"
    # Invited, messages (incl. @所有人 after hours), join, leave, topic change; the malformed
    # events in between did not stop the bot (the last message on 11-06 was still counted).
    assert fields("r1@chatroom") == {
        "topic": "2026年冬季征兵工作群",
        "owner_id": "zhang",
        "status": "active",
        "kind": None,
        "end_date": None,
        "unit": "黑龙潭镇",
        "member_count": 2,
        "messages_30d": 3,
        "last_activity": "2026-11-06T10:00:00+08:00",
    }
    # The bot was removed; the group lives on with its members.
    assert fields("r2@chatroom") == {
        "topic": "黑龙潭镇党政办工作群",
        "owner_id": "li",
        "status": "removed",
        "kind": None,
        "end_date": None,
        "unit": "黑龙潭镇",
        "member_count": 3,
        "messages_30d": 50,
        "last_activity": "2026-11-04T13:35:00+08:00",
    }
    # Disbanded: nobody is left.
    assert fields("r3@chatroom") == {
        "topic": "迎检临时群",
        "owner_id": "zhang",
        "status": "dissolved",
        "kind": None,
        "end_date": None,
        "unit": "黑龙潭镇",
        "member_count": 0,
        "messages_30d": 1,
        "last_activity": "2026-11-05T09:40:00+08:00",
    }
    for row in rooms.values():
        assert set(row) >= {
            "room_id",
            "topic",
            "owner_id",
            "status",
            "kind",
            "end_date",
            "unit",
            "member_count",
            "messages_30d",
            "last_activity",
            "labels",
        }

    sent = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()]
    greetings = [m for m in sent if "从不保存聊天内容" in m["text"]]
    # One greeting per invitation, in the room, no @所有人, never the backfilled room.
    assert [m["room"] for m in greetings] == ["r1@chatroom", "r2@chatroom", "r3@chatroom"]
    assert all(m["to"] is None and not m.get("mentions") for m in greetings)
    assert greetings[0]["at"] == "2026-11-02T09:00:00+08:00"


def test_bots_own_messages_are_not_activity(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The greeting the bot posts is echoed back by the puppet; it must not count as activity."""
    db = f"sqlite:///{tmp_path / 'q.db'}"
    code, _ = cli("simulate", str(DATA / "core.yaml"), "--db", db, "--until", "2026-11-02T09:01:00+08:00")
    assert code == 0
    rooms = _audit(cli, db, "2026-11-02")
    assert rooms["r1@chatroom"]["messages_30d"] == 0
    assert rooms["r1@chatroom"]["last_activity"] is None
