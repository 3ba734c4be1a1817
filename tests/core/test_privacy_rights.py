"""A person's rights: `qingqun privacy export` gives everything stored about them, `privacy forget`
removes or pseudonymises it, keeps the groups' figures, and leaves the id nowhere in the database
files (SQLite: file, -wal and -shm bytes; PostgreSQL: every row of every table)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, select, text

from storage.db import make_engine, normalise_url, session_scope
from storage.migrate import upgrade
from storage.models import Contact, Outbox
from storage.privacy import NAME_REMOVED, forget_contact

WHO = "wxid_forgetme_q7k2"
NAME = "欧阳忘记"

SCENARIO: dict[str, Any] = {
    "version": 1,
    "start": "2026-11-02T08:00:00+08:00",
    "end": "2026-11-09T12:00:00+08:00",
    "bot": {"id": "qingqun-bot", "name": "清群助手"},
    "units": [{"name": "郾城区"}, {"name": "黑龙潭镇", "parent": "郾城区"}],
    "contacts": [
        {"id": WHO, "name": NAME, "unit": "黑龙潭镇"},
        {"id": "li", "name": "李四", "unit": "黑龙潭镇"},
        {"id": "zhao", "name": "赵书记", "unit": "郾城区", "role": "supervisor"},
    ],
    "rooms": [
        {"id": "r1@chatroom", "topic": "征兵体检临时群", "owner": WHO, "members": [WHO, "li"]},
        {"id": "r2@chatroom", "topic": "黑龙潭镇党政办工作群", "owner": "li", "members": ["li", WHO]},
        {"id": "r3@chatroom", "topic": "黑龙潭镇党建工作群", "owner": WHO, "members": [WHO, "li", "zhao"]},
    ],
    "timeline": [
        {"at": "2026-11-02T09:00:00+08:00", "invite": "r1@chatroom", "by": WHO},
        {"at": "2026-11-02T09:05:00+08:00", "room": "r1@chatroom", "from": WHO, "say": "收到"},
        {"at": "2026-11-02T09:10:00+08:00", "room": "r1@chatroom", "from": "li", "say": "好的"},
        {"at": "2026-11-02T09:20:00+08:00", "room": "r1@chatroom", "from": WHO,
         "say": "@清群助手 登记 临时 2026-11-05 征兵体检"},
        {"at": "2026-11-02T10:00:00+08:00", "invite": "r2@chatroom", "by": "li"},
        {"at": "2026-11-02T10:05:00+08:00", "room": "r2@chatroom", "from": WHO, "say": "收到"},
        {"at": "2026-11-02T10:10:00+08:00", "room": "r2@chatroom", "from": WHO,
         "say": "@清群助手 登记 常设 党建工作"},  # not the owner: refused, still logged
        {"at": "2026-11-02T11:00:00+08:00", "invite": "r3@chatroom", "by": WHO},
        {"at": "2026-11-02T11:10:00+08:00", "room": "r3@chatroom", "from": WHO,
         "say": "@清群助手 登记 常设 单位 黑龙潭镇 党建工作"},  # needs a supervisor: an approval request
        {"at": "2026-11-03T09:00:00+08:00", "topic": "r1@chatroom", "to": "2026年征兵体检临时群", "by": WHO},
        {"at": "2026-11-03T09:30:00+08:00", "leave": "r2@chatroom", "members": [WHO]},
        {"at": "2026-11-03T10:00:00+08:00", "join": "r2@chatroom", "members": [WHO], "by": "li"},
        {"at": "2026-11-04T10:00:00+08:00", "from": WHO, "say": "我的群"},
        {"at": "2026-11-04T11:00:00+08:00", "burst": "r2@chatroom", "from": ["li", WHO], "count": 20,
         "every": "5m"},
    ],
}


@pytest.fixture
def populated(cli, db_url: str, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "people.yaml"
    path.write_text(yaml.safe_dump(SCENARIO, allow_unicode=True), encoding="utf-8")
    code, out = cli("simulate", str(path), "--db", db_url)
    assert code == 0, out
    return db_url


def _audit(cli, db: str) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    code, out = cli("audit", "--json", "--at", "2026-11-09", "--db", db)
    assert code == 0
    return {r["room_id"]: r for r in json.loads(out)}


def _sqlite_files(db: str) -> list[Path]:
    path = Path(db.removeprefix("sqlite:///"))
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


def _pg_dump(db: str) -> dict[str, list[str]]:
    """Every row of every table, as PostgreSQL's text form of the row."""
    engine = create_engine(normalise_url(db))
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        tables = conn.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        ).scalars().all()
        assert "contact" in tables
        assert "outbox" in tables
        for table in tables:
            out[table] = sorted(conn.execute(text(f'SELECT t::text FROM "{table}" AS t')).scalars())
    engine.dispose()
    return out


def _rows_mentioning(db: str, needle: str) -> dict[str, int]:
    hits = {t: sum(needle in row for row in rows) for t, rows in _pg_dump(db).items()}
    return {t: n for t, n in hits.items() if n}


def _bytes_mentioning(db: str, needle: str) -> list[str]:
    return [p.name for p in _sqlite_files(db) if needle.encode() in p.read_bytes()]


def _present(db: str, needle: str) -> bool:
    if db.startswith("sqlite"):
        return bool(_bytes_mentioning(db, needle))
    return bool(_rows_mentioning(db, needle))


def test_export_gives_everything_stored_about_the_person(cli, populated: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "export.json"
    code, printed = cli("privacy", "export", "--contact", WHO, "--output", str(out), "--db", populated)
    assert code == 0
    assert str(out) in printed
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["contact"] == {"id": WHO, "name": NAME, "unit": "黑龙潭镇", "role": "staff", "friend": True}
    roles = {r["id"]: r["roles"] for r in data["rooms"]}
    assert "owner" in roles["r1@chatroom"]
    assert "owner" in roles["r3@chatroom"]
    assert {m["room_id"] for m in data["memberships"]} == {"r1@chatroom", "r2@chatroom", "r3@chatroom"}
    assert sum(1 for m in data["memberships"] if m["room_id"] == "r2@chatroom") == 2  # left and came back
    assert sum(d["messages"] for d in data["sender_days"]) == 2 + 3 + 10  # chat, commands, burst
    assert {c["command"] for c in data["commands"]} == {"register", "my_groups"}
    assert {c["outcome"] for c in data["commands"]} >= {"ok", "refused"}
    assert [a["kind"] for a in data["approvals"]] == ["standing"]
    assert any(m["kind"] == "owner_digest" for m in data["messages_to_them"])
    assert [t["new_topic"] for t in data["topic_changes"]] == ["2026年征兵体检临时群"]
    kinds = {e["kind"] for e in data["events"]}
    assert {"bot_invited", "registered", "members_left", "members_joined"} <= kinds
    # stdout form: the same document
    code, printed = cli("privacy", "export", "--contact", WHO, "--db", populated)
    assert code == 0
    assert json.loads(printed) == data


def test_forget_leaves_the_id_nowhere_and_the_groups_figures_unchanged(cli, populated: str, capsys) -> None:  # type: ignore[no-untyped-def]
    before = _audit(cli, populated)
    assert _present(populated, WHO)
    assert _present(populated, NAME)
    code, out = cli("privacy", "forget", "--contact", WHO, "--db", populated)
    assert code == 0, capsys.readouterr().err
    assert out.startswith(f"已删除 {WHO} 的个人数据：")
    assert not _present(populated, WHO)
    assert not _present(populated, NAME)
    after = _audit(cli, populated)
    assert set(after) == set(before)
    for rid in before:
        for key in ("topic", "status", "kind", "end_date", "unit", "member_count", "messages_30d"):
            assert after[rid][key] == before[rid][key], (rid, key)
    assert before["r1@chatroom"]["owner_id"] == WHO
    assert after["r1@chatroom"]["owner_id"] is None
    assert after["r2@chatroom"]["owner_id"] == "li"
    assert [r["last_activity"] for r in after.values()] == [r["last_activity"] for r in before.values()]

    # Command log lines stay, anonymised; nothing reveals who.
    engine = make_engine(populated)
    with engine.connect() as conn:
        senders = conn.execute(text("SELECT DISTINCT sender_id FROM commandlog")).scalars().all()
        approvals = conn.execute(text("SELECT requested_by FROM approvalrequest")).scalars().all()
    engine.dispose()
    aliases = {s for s in senders if s.startswith("forgotten-")}
    assert len(aliases) == 1
    assert set(approvals) == aliases

    # Everything still works afterwards, and the person is unknown now.
    assert cli("digest", "preview", "--at", "2026-11-09", "--db", populated)[0] == 0
    code, _ = cli("privacy", "export", "--contact", WHO, "--db", populated)
    assert code == 2
    assert f"未找到联系人 {WHO}" in capsys.readouterr().err


def test_unknown_contact_changes_nothing(cli, populated: str, capsys) -> None:  # type: ignore[no-untyped-def]
    if populated.startswith("sqlite"):
        snapshot: Any = {p.name: p.read_bytes() for p in _sqlite_files(populated)}
    else:
        snapshot = _pg_dump(populated)
    for verb in ("forget", "export"):
        code, out = cli("privacy", verb, "--contact", "nobody_here", "--db", populated)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2
        assert out == ""
        assert err == [
            "qingqun: error: 未找到联系人 nobody_here：数据库中没有与该 ID 有关的记录（未做任何改动）"
        ]
    if populated.startswith("sqlite"):
        assert {p.name: p.read_bytes() for p in _sqlite_files(populated)} == snapshot
    else:
        assert _pg_dump(populated) == snapshot


def test_privacy_commands_never_create_a_database(cli, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "none" / "q.db"
    for argv in (("export", "--contact", WHO), ("forget", "--contact", WHO), ("wipe",)):
        code, _ = cli("privacy", *argv, "--db", f"sqlite:///{db}")
        assert code == 2
        assert "数据库文件不存在" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_export_output_is_checked_before_the_database(cli, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _ = cli(
        "privacy", "export", "--contact", WHO, "--output", str(tmp_path / "no" / "x.json"),
        "--db", f"sqlite:///{tmp_path / 'missing.db'}",
    )
    assert code == 2
    assert "导出文件所在的文件夹不存在" in capsys.readouterr().err


def test_an_id_inside_another_id_is_left_alone(db_url: str) -> None:
    """Forgetting "li" must not touch "lili" or "li_2", nor texts about other people."""
    engine = make_engine(db_url)
    upgrade(engine)
    with session_scope(engine) as s:
        for cid, name in (("li", "李四"), ("lili", "李丽"), ("li_2", "李二")):
            s.add(Contact(id=cid, name=name))
        s.add(Outbox(dedupe_key="contact:zhao|supervisor_digest|2026-W45", recipient_id="zhao", status="sent",
                     text="逾期群较多的群主：李四 2 个，李丽 1 个（lili）"))
        s.add(Outbox(dedupe_key="contact:li|owner_digest|2026-W45", recipient_id="li", status="pending",
                     text="李四您好"))
        s.add(Outbox(dedupe_key="contact:lili|owner_digest|2026-W45", recipient_id="lili", status="sent",
                     text="李丽您好"))
    with session_scope(engine) as s:
        result = forget_contact(s, contact_id="li")
    assert result.counts == {"contact": 1, "messages_dropped": 1, "names_removed": 1}
    with session_scope(engine) as s:
        assert {c.id for c in s.scalars(select(Contact))} == {"lili", "li_2"}
        texts = {o.dedupe_key: o.text for o in s.scalars(select(Outbox))}
    engine.dispose()
    assert texts == {
        "contact:zhao|supervisor_digest|2026-W45": f"逾期群较多的群主：{NAME_REMOVED} 2 个，李丽 1 个（lili）",  # noqa: E501
        "contact:lili|owner_digest|2026-W45": "李丽您好",
    }


def test_a_reader_holding_the_wal_is_reported_and_privacy_wipe_finishes(cli, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """SQLite with the bot running: forget cannot empty the WAL while another connection reads."""
    import sqlite3

    path = tmp_path / "people.yaml"
    path.write_text(yaml.safe_dump(SCENARIO, allow_unicode=True), encoding="utf-8")
    db = tmp_path / "q.db"
    assert cli("simulate", str(path), "--db", f"sqlite:///{db}")[0] == 0
    reader = sqlite3.connect(db)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM room").fetchone()  # an open read transaction, like the bot's
    try:
        code, _ = cli("privacy", "forget", "--contact", WHO, "--db", f"sqlite:///{db}")
        assert code == 1
        assert "qingqun privacy wipe" in capsys.readouterr().err
    finally:
        reader.rollback()
        reader.close()
    code, out = cli("privacy", "wipe", "--db", f"sqlite:///{db}")
    assert code == 0, capsys.readouterr().err
    assert "数据库文件已清理" in out
    assert not _bytes_mentioning(f"sqlite:///{db}", WHO)
