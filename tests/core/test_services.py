"""Service-level behaviour that scenarios cannot reach easily."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.core.clock import VirtualClock
from bot.core.config import load_settings
from bot.core.domain import RoomSnapshot
from storage import directory as directory_db
from storage import outbox as outbox_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade


def test_a_room_first_seen_through_a_message_is_enrolled_without_a_greeting(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        upgrade(engine)
        at = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
        app = App(engine=engine, settings=load_settings(), clock=VirtualClock(at))
        assert "r9@chatroom" not in app.active_rooms()
        app.adopt_room(RoomSnapshot("r9@chatroom", "新店镇值班群", "zhang", ("zhang", "li")), at)
        assert "r9@chatroom" in app.active_rooms()
        with session_scope(engine) as s:
            room = rooms_db.get_room(s, room_id="r9@chatroom")
            assert room is not None
            assert (room.status, room.member_count, room.enrolled_at) == ("active", 2, at)
            assert outbox_db.outbox_rows(s) == []  # no greeting: the bot did not just arrive
        app.bot_left("r9@chatroom", "zhang", at, dissolved=False)
        assert "r9@chatroom" not in app.active_rooms()
    finally:
        engine.dispose()


def test_roster_import(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        "units: [{name: 郾城区}, {name: 新店镇, parent: 郾城区}]\n"
        "contacts:\n"
        "  - {id: zhao, name: 赵建国, unit: 郾城区, role: supervisor}\n"
        "  - {id: he, name: 何丽, unit: 新店镇, friend: false}\n",
        encoding="utf-8",
    )
    db = f"sqlite:///{tmp_path / 'r.db'}"
    code, out = cli("roster", "import", str(roster), "--db", db)
    assert code == 0
    assert "2 个单位，2 名人员" in out
    engine = make_engine(db)
    try:
        with session_scope(engine) as s:
            people = directory_db.contacts(s)
            assert people["zhao"].role == "supervisor"
            assert (people["he"].friend, people["he"].unit) == (False, "新店镇")
            assert directory_db.unit_subtree(s, root="郾城区") == {"郾城区", "新店镇"}
    finally:
        engine.dispose()


def test_roster_with_a_bad_role_is_refused(cli, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    roster = tmp_path / "roster.yaml"
    roster.write_text("contacts: [{id: x, role: boss}]\n", encoding="utf-8")
    code, _ = cli("roster", "import", str(roster), "--db", f"sqlite:///{tmp_path / 'r.db'}")
    assert code == 2
    assert "contacts[0] role must be staff or supervisor" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("units: [{name: 新店镇, parent: 郾城县}]\n", "unit '新店镇' has unknown parent '郾城县'"),
        (
            "units: [{name: 郾城区}]\ncontacts: [{id: x, unit: 新店镇}]\n",
            "contacts[0] has unknown unit '新店镇'",
        ),
    ],
)
def test_roster_with_unknown_units_is_refused_and_writes_nothing(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, capsys, text: str, error: str
) -> None:
    """The roster and the scenario loader share one parser, so both refuse the same mistakes."""
    roster = tmp_path / "roster.yaml"
    roster.write_text(text, encoding="utf-8")
    db = tmp_path / "r.db"
    code, _ = cli("roster", "import", str(roster), "--db", f"sqlite:///{db}")
    assert code == 2
    assert error in capsys.readouterr().err
    assert not db.exists()
