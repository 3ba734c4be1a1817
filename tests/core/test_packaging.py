"""The demo ships the example scenario inside the package; the two copies must not drift."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_township_matches_the_example() -> None:
    example = (ROOT / "examples" / "township.yaml").read_bytes()
    packaged = (ROOT / "bot" / "data" / "township.yaml").read_bytes()
    assert packaged == example, "run: cp examples/township.yaml bot/data/township.yaml"


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
