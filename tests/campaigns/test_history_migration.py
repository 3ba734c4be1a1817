"""Migration 0005 (room history, campaigns) up and down, and history recorded by the room writes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

T0 = datetime(2026, 9, 1, 1, tzinfo=UTC)


def _rows(engine: Any, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def test_migration_backfills_history_and_goes_down(db_url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect
    from sqlmodel import SQLModel

    from storage.db import make_engine
    from storage.migrate import alembic_config, upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine, "0004")
        room = SQLModel.metadata.tables["room"]
        change = SQLModel.metadata.tables["topicchange"]
        base = {
            "owner_id": "zhang",
            "enrolled_by": None,
            "created_on": None,
            "member_count": 3,
            "admin_ids": "[]",
            "original_end_date": None,
            "extension_count": 0,
            "purpose": None,
            "registered_by": None,
            "approved": False,
            "claimed_dissolved_at": None,
            "last_activity_at": None,
        }
        with engine.begin() as conn:
            conn.execute(
                room.insert(),
                [
                    # Enrolled, renamed and registered later, then disbanded.
                    dict(
                        base,
                        id="r1",
                        topic="新名",
                        status="dissolved",
                        status_at=T0 + timedelta(days=30),
                        enrolled_at=T0,
                        kind="temporary",
                        end_date=date(2026, 10, 1),
                        unit="黑龙潭镇",
                        registered_at=T0 + timedelta(days=2),
                    ),
                    # Unchanged since its enrolment.
                    dict(
                        base,
                        id="r2",
                        topic="党建群",
                        status="active",
                        status_at=T0,
                        enrolled_at=T0,
                        kind=None,
                        end_date=None,
                        unit=None,
                        registered_at=None,
                    ),
                    # Never enrolled (no moment known): no history; audits take its current values.
                    dict(
                        base,
                        id="r3",
                        topic="旧群",
                        status="active",
                        status_at=None,
                        enrolled_at=None,
                        kind=None,
                        end_date=None,
                        unit=None,
                        registered_at=None,
                    ),
                ],
            )
            conn.execute(
                change.insert(),
                [
                    {
                        "room_id": "r1",
                        "at": T0 + timedelta(days=5),
                        "old_topic": "旧名",
                        "new_topic": "新名",
                        "changed_by": None,
                    }
                ],
            )
        rooms_before = _rows(engine, "SELECT id, topic, status FROM room ORDER BY id")
        upgrade(engine)
        history = _rows(
            engine, "SELECT room_id, topic, status, kind, unit FROM roomhistory ORDER BY room_id, at, id"
        )
        assert history == [
            ("r1", "旧名", "active", None, None),
            ("r1", "新名", "dissolved", "temporary", "黑龙潭镇"),
            ("r2", "党建群", "active", None, None),
        ]
        names = set(inspect(engine).get_table_names())
        assert {"roomhistory", "campaign", "campaignbaseline"} <= names
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        mine = ("roomhistory", "campaign", "membership")
        assert [d for d in diff if any(t in repr(d) for t in mine)] == []
        command.downgrade(alembic_config(engine), "0004")
        names = set(inspect(engine).get_table_names())
        assert not {"roomhistory", "campaign", "campaignbaseline"} & names
        assert _rows(engine, "SELECT id, topic, status FROM room ORDER BY id") == rooms_before
        upgrade(engine)  # and up again
        assert len(_rows(engine, "SELECT id FROM roomhistory")) == 3
    finally:
        engine.dispose()


def test_room_writes_record_history_and_past_reads_match_today(db_url: str) -> None:
    from storage import past as past_db
    from storage import rooms as rooms_db
    from storage.db import make_engine, session_scope
    from storage.migrate import upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with session_scope(engine) as s:
            room, _ = rooms_db.enrol_room(
                s,
                room_id="r1",
                topic="迎检群",
                owner_id="zhang",
                admin_ids=[],
                member_ids=["zhang", "li"],
                by="zhang",
                at=T0,
            )
            room.unit = "黑龙潭镇"  # after the call, in the same unit of work: part of the snapshot
        with session_scope(engine) as s:
            room = rooms_db.get_room(s, room_id="r1")
            assert room is not None
            rooms_db.change_topic(s, room=room, new_topic="迎检材料群", by="zhang", at=T0 + timedelta(days=1))
            rooms_db.set_status(s, room=room, status="active", at=T0 + timedelta(days=2))  # no change: no row
        with session_scope(engine) as s:
            room = rooms_db.get_room(s, room_id="r1")
            assert room is not None
            rooms_db.remove_members(s, room=room, member_ids=["li"], at=T0 + timedelta(days=3))
            rooms_db.set_status(s, room=room, status="removed", at=T0 + timedelta(days=4))
        with session_scope(engine) as s:
            rows = _rows(engine, "SELECT topic, status, unit FROM roomhistory ORDER BY at, id")
            assert rows == [
                ("迎检群", "active", "黑龙潭镇"),
                ("迎检材料群", "active", "黑龙潭镇"),
                ("迎检材料群", "removed", "黑龙潭镇"),
            ]
            cols = ("id", "topic", "status", "unit", "member_count", "enrolled_at")
            today = rooms_db.room_rows(s, columns=cols)
            assert past_db.room_rows_as_of(s, at=T0 + timedelta(days=9), columns=cols) == today
            assert past_db.room_rows_as_of(s, at=T0 + timedelta(hours=1), columns=cols) == [
                ("r1", "迎检群", "active", "黑龙潭镇", 2, T0)
            ]
            assert past_db.room_rows_as_of(s, at=T0 - timedelta(hours=1), columns=cols) == []
            assert past_db.changed_after(s, at=T0 + timedelta(days=2))
            assert not past_db.changed_after(s, at=T0 + timedelta(days=9))
            assert past_db.members_as_of(s, at=T0 + timedelta(days=2)) == {"r1": frozenset({"zhang", "li"})}
    finally:
        engine.dispose()
