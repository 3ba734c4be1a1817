"""Principle 1: message text never reaches the database or the logs."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml


def test_message_text_is_never_stored_or_logged(cli, tmp_path: Path, capfd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QINGQUN_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("WECHATY_LOG", "verbose")  # python-wechaty's own INFO logging, which prints text
    markers = [f"MARK{uuid.uuid4().hex[:10]}" for _ in range(6)]
    scenario = {
        "version": 1,
        "start": "2026-11-02T08:00:00+08:00",
        "end": "2026-11-03T18:00:00+08:00",
        "bot": {"id": "qingqun-bot", "name": "清群助手"},
        "contacts": [{"id": "zhang", "name": "张三"}, {"id": "li", "name": "李四"}],
        "rooms": [{"id": "r1@chatroom", "topic": "防汛值班群", "owner": "zhang", "members": ["zhang", "li"]}],
        "timeline": [
            {"at": "2026-11-02T09:00:00+08:00", "invite": "r1@chatroom", "by": "zhang"},
            {
                "at": "2026-11-02T09:10:00+08:00",
                "room": "r1@chatroom",
                "from": "li",
                "say": f"收到 {markers[0]}",
            },
            {
                "at": "2026-11-02T09:11:00+08:00",
                "room": "r1@chatroom",
                "from": "zhang",
                "say": f"@所有人 {markers[1]}",
                "mention_all": True,
            },
            {
                "at": "2026-11-02T09:12:00+08:00",
                "room": "r1@chatroom",
                "from": "li",
                "say": f"@张三 {markers[2]}",
            },
            {
                "at": "2026-11-02T09:13:00+08:00",
                "burst": "r1@chatroom",
                "from": ["li"],
                "count": 5,
                "every": "1m",
            },
            # Addressed to the bot, but not a command: nothing of it may be kept either.
            {
                "at": "2026-11-02T10:00:00+08:00",
                "room": "r1@chatroom",
                "from": "li",
                "say": f"@清群助手 {markers[3]}",
            },
            {"at": "2026-11-02T10:05:00+08:00", "from": "li", "say": markers[4]},
            {"at": "2026-11-02T22:00:00+08:00", "room": "r1@chatroom", "from": "li", "say": markers[5]},
        ],
    }
    path = tmp_path / "privacy.yaml"
    path.write_text(yaml.safe_dump(scenario, allow_unicode=True), encoding="utf-8")
    db = tmp_path / "q.db"
    code, out = cli("simulate", str(path), "--db", f"sqlite:///{db}")
    assert code == 0
    code, audit = cli("audit", "--db", f"sqlite:///{db}", "--at", "2026-11-03", "--json")
    assert code == 0
    assert '"messages_30d": 10' in audit  # the messages were counted…
    captured = capfd.readouterr()
    logs = captured.out + captured.err + out + audit
    assert "logged in as" in logs  # the log capture works
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("q.db"))
    for marker in markers:  # …but no text survived anywhere
        assert marker.encode() not in stored, marker
        assert marker not in logs, marker
