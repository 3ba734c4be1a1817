"""Every label code of `qingqun audit --json` from one scenario: `qingqun simulate`, then `qingqun audit`.

Rooms are registered by their owners through the chat command, so the registered kinds and
end dates come from the real command path. Audited as of 2026-12-10 (a Thursday).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

SCENARIO = Path(__file__).parent / "data" / "labels.yaml"
AT = "2026-12-10"

# room -> [(code, action, fragments the reason must contain)], in the engine's label order.
EXPECTED: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "r1@chatroom": [("temporary_expired", "dissolve", ("2026-11-20", "20 天"))],
    "r2@chatroom": [("phase_expired", "dissolve", ("2026-11-15", "25 天"))],
    "r3@chatroom": [
        ("suspected_phase_expired", "review", ("三秋", "2026-11-30", "10 天")),
        ("unregistered", "register", ("38 天",)),
    ],
    "r4@chatroom": [("idle", "dissolve", ("38 天", "2026-11-02"))],
    "r5@chatroom": [],
    "r6@chatroom": [("duplicate", "merge", ("黑龙潭镇网格员群", "83%"))],
    "r7@chatroom": [("unregistered", "register", ("38 天",))],
    "r8@chatroom": [("ownerless", "review", ("群主已不在群内",))],
    "r9@chatroom": [("ending_soon", "notice", ("2026-12-12", "2 天"))],
    "r10@chatroom": [("after_hours", "review", ("75%", "40 条"))],
    "r11@chatroom": [("mention_all_heavy", "review", ("10 次", "50%"))],
    "r12@chatroom": [],
}

ACTION_CN = {"dissolve": "解散", "merge": "合并", "register": "登记", "review": "核查", "notice": "提醒"}


@pytest.fixture
def audited(cli, db_url: str) -> str:  # type: ignore[no-untyped-def]
    code, out = cli("simulate", str(SCENARIO), "--db", db_url)
    assert code == 0, out
    return db_url


def _audit(cli, db: str) -> dict[str, dict]:  # type: ignore[no-untyped-def, type-arg]
    code, out = cli("audit", "--db", db, "--at", AT, "--json")
    assert code == 0
    return {row["room_id"]: row for row in json.loads(out)}


def test_scenario_covers_every_label_code() -> None:
    from policies.model import LABEL_CODES

    assert {code for labels in EXPECTED.values() for code, _, _ in labels} == set(LABEL_CODES)


def test_each_room_gets_exactly_its_labels(cli, audited: str) -> None:  # type: ignore[no-untyped-def]
    rooms = _audit(cli, audited)
    assert set(rooms) == set(EXPECTED)
    for room_id, expected in EXPECTED.items():
        labels = rooms[room_id]["labels"]
        got = [(lb["code"], lb["action"]) for lb in labels]
        assert got == [(code, action) for code, action, _ in expected], (room_id, labels)
        for lb, (_, _, fragments) in zip(labels, expected, strict=True):
            for fragment in fragments:
                assert fragment in lb["reason"], (room_id, fragment, lb["reason"])


def test_registrations_came_from_the_chat_command(cli, audited: str) -> None:  # type: ignore[no-untyped-def]
    rooms = _audit(cli, audited)

    def reg(rid: str) -> tuple[str | None, str | None, str | None]:
        return rooms[rid]["kind"], rooms[rid]["end_date"], rooms[rid]["unit"]

    assert reg("r1@chatroom") == ("temporary", "2026-11-20", "黑龙潭镇")
    assert reg("r2@chatroom") == ("phase", "2026-11-15", "黑龙潭镇")
    assert reg("r9@chatroom") == ("temporary", "2026-12-12", "黑龙潭镇")
    assert reg("r3@chatroom")[:2] == (None, None)
    assert reg("r7@chatroom")[:2] == (None, None)
    assert rooms["r12@chatroom"]["status"] == "dissolved"
    assert rooms["r8@chatroom"]["owner_id"] == "sun"
    assert rooms["r8@chatroom"]["member_count"] == 3
    assert rooms["r10@chatroom"]["messages_30d"] == 40
    assert rooms["r11@chatroom"]["messages_30d"] == 20
    assert rooms["r4@chatroom"]["messages_30d"] == 0


def test_burden_counts(cli, audited: str) -> None:  # type: ignore[no-untyped-def]
    code, out = cli("audit", "--db", audited, "--at", AT, "--burden", "--json")
    assert code == 0
    burden = {b["contact_id"]: (b["active_groups"], b["flagged_groups"]) for b in json.loads(out)}
    # Flagged (dissolve/merge): r1, r2 (expired), r4 (idle), r6 (duplicate).
    assert burden["li"] == (4, 2)  # r1 r2 r7 r10
    assert burden["zhang"] == (3, 1)  # r1 r5 r11; r12 is dissolved and does not count
    assert burden["wu"] == (3, 0)  # r3 r8 r10
    assert burden["sun"] == (2, 1)  # r2 r11; left r8
    assert burden["chen"] == (2, 1)  # r4 r8
    assert "qingqun-bot" not in burden
    assert "shuji" not in burden  # in no group


def _table_rows(text: str) -> list[list[str]]:
    """Cells of a rich table, each cell's wrapped lines joined with whitespace removed."""
    rows: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("│"):
            cells = line.strip().strip("│").split("│")
            if current is None:
                current = [""] * len(cells)
            for i, cell in enumerate(cells):
                current[i] += re.sub(r"\s+", "", cell)
        elif current is not None:
            rows.append(current)
            current = None
    return rows


def test_table_shows_the_reasons(cli, audited: str) -> None:  # type: ignore[no-untyped-def]
    rooms = _audit(cli, audited)
    code, out = cli("audit", "--db", audited, "--at", AT)
    assert code == 0
    assert f"工作群审计（截至 {AT}）" in out
    advice = {row[0]: row[-1] for row in _table_rows(out)}
    for room_id, expected in EXPECTED.items():
        cell = advice[re.sub(r"\s+", "", rooms[room_id]["topic"])]
        if not expected:
            assert cell == "无", (room_id, cell)
        for lb in rooms[room_id]["labels"]:
            assert re.sub(r"\s+", "", f"[{ACTION_CN[lb['action']]}]{lb['reason']}") in cell, (room_id, cell)
    assert "共 12 个群，在用 11 个" in out


def test_audit_room_rows_equal_the_orm_values(audited: str) -> None:
    """`rooms_db.room_rows` converts stored dates and moments itself (once per distinct value); the
    values must be exactly what the ORM gives, on SQLite and PostgreSQL alike."""
    from sqlmodel import select

    from bot.services.audit import _ROOM_COLUMNS
    from storage import rooms as rooms_db
    from storage.db import make_engine, session_scope
    from storage.models import Room

    engine = make_engine(audited)
    try:
        with session_scope(engine) as s:
            rows = rooms_db.room_rows(s, columns=_ROOM_COLUMNS)
            orm = {r.id: r for r in s.exec(select(Room)).all()}
            assert [row[0] for row in rows] == sorted(orm)
            for row in rows:
                room = orm[row[0]]
                for name, value in zip(_ROOM_COLUMNS, row, strict=True):
                    expected = getattr(room, name)
                    assert value == expected, (row[0], name, value)
                    assert type(value) is type(expected), (row[0], name, value)
                    if isinstance(value, datetime):
                        assert value.tzinfo is UTC, (row[0], name, value)
            # Equal values are one object (several rooms here share an end date).
            at = _ROOM_COLUMNS.index("end_date")
            ends = [row[at] for row in rows if row[at] is not None]
            assert len(set(ends)) < len(ends)
            assert len({id(v) for v in ends}) == len(set(ends))
    finally:
        engine.dispose()


def test_a_repeated_open_membership_counts_once(cli, audited: str) -> None:  # type: ignore[no-untyped-def]
    """Two open membership rows for one person in one room (as concurrent writers could leave)
    change neither the burden nor the member count the ownerless check reports."""
    from sqlalchemy import insert

    from storage.db import make_engine, session_scope
    from storage.models import Membership

    engine = make_engine(audited)
    try:
        with session_scope(engine) as s:
            joined = datetime(2026, 12, 1, tzinfo=UTC)
            again = {"room_id": "r1@chatroom", "contact_id": "li", "joined_at": joined}
            s.execute(insert(Membership.__table__), [again])  # type: ignore[attr-defined]
    finally:
        engine.dispose()
    code, out = cli("audit", "--db", audited, "--at", AT, "--burden", "--json")
    assert code == 0
    burden = {b["contact_id"]: (b["active_groups"], b["flagged_groups"]) for b in json.loads(out)}
    assert burden["li"] == (4, 2)
    test_each_room_gets_exactly_its_labels(cli, audited)
