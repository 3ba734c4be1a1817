"""The demo ships the example scenario inside the package; the two copies must not drift."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_township_matches_the_example() -> None:
    example = (ROOT / "examples" / "township.yaml").read_bytes()
    packaged = (ROOT / "bot" / "sim" / "data" / "township.yaml").read_bytes()
    assert packaged == example, "run: cp examples/township.yaml bot/sim/data/township.yaml"


def test_migrations_apply_twice(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    from storage.db import make_engine
    from storage.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        upgrade(engine)
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"room", "membership", "dailyactivity", "outbox", "eventlog", "alembic_version"} <= tables
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def test_clustering_dailyactivity_keeps_its_rows(db_url: str) -> None:
    """Migration 0004 rebuilds dailyactivity WITHOUT ROWID on SQLite (nothing on PostgreSQL);
    rows survive it both ways, and the result matches what the model declares."""
    from datetime import UTC, date, datetime

    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    from storage.db import make_engine
    from storage.migrate import alembic_config, upgrade

    engine = make_engine(db_url)
    rows = [
        ("r1@chatroom", date(2026, 11, 1), 5, 2, 1, 0, datetime(2026, 11, 1, 3, tzinfo=UTC)),
        ("r1@chatroom", date(2026, 11, 2), 7, 3, 0, 2, None),
        ("r2@chatroom", date(2026, 11, 1), 1, 1, 0, 1, datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
    ]
    select_all = (
        "SELECT room_id, day, messages, distinct_senders, mention_all, after_hours, last_at"
        " FROM dailyactivity ORDER BY room_id, day"
    )

    def stored() -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(select_all)]

    def clustered() -> bool:
        with engine.connect() as conn:
            sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'dailyactivity'").scalar()
        return "WITHOUT ROWID" in str(sql)

    try:
        upgrade(engine, "0003")
        from storage.models import DailyActivity

        names = ("room_id", "day", "messages", "distinct_senders", "mention_all", "after_hours", "last_at")
        with engine.begin() as conn:
            conn.execute(
                DailyActivity.__table__.insert(),  # type: ignore[attr-defined]
                [dict(zip(names, r, strict=True)) for r in rows],
            )
        before = stored()
        assert len(before) == 3
        upgrade(engine)
        assert stored() == before
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert [d for d in diff if "dailyactivity" in repr(d)] == []
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            assert clustered()
        command.downgrade(alembic_config(engine), "0003")
        assert stored() == before
        if sqlite:
            assert not clustered()
    finally:
        engine.dispose()
