"""Read-only commands never create: a missing, corrupt, unreachable, foreign or newer database is
one Chinese line and exit 2, and nothing appears on disk; settings, the rules file and the output
path are checked before the database is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

READ_COMMANDS = [
    ("audit",),
    ("audit", "--json"),
    ("audit", "--burden"),
    ("digest", "preview", "--at", "2026-11-30"),
    ("ledger", "export", "--output", "OUT/ledger.xlsx"),
]


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root, with file contents (None for folders)."""
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = None if p.is_dir() else p.read_bytes()
    return out


def _run(cli, tmp_path: Path, argv: tuple[str, ...], db: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    args = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    code, _ = cli(*args, "--db", db)
    return code, ""


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in err
    assert lines[0].startswith("qingqun: error: ")
    return lines[0]


def _migrated_sqlite(path: Path) -> str:
    from storage.db import make_engine
    from storage.migrate import upgrade

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.mark.parametrize("argv", READ_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_missing_sqlite_file_is_refused_and_not_created(cli, tmp_path: Path, capsys, argv) -> None:  # type: ignore[no-untyped-def]
    before = _snapshot(tmp_path)
    db = tmp_path / "nowhere" / "sub" / "x.db"
    code, _ = _run(cli, tmp_path, argv, f"sqlite:///{db}")
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "数据库文件不存在" in line
    assert str(db) in line
    assert _snapshot(tmp_path) == before  # no folder, no file, no output


def test_default_database_in_a_missing_data_dir_is_not_created(cli, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _ = cli("audit")
    assert code == 2
    assert "数据库文件不存在" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("argv", READ_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_corrupt_sqlite_file_is_one_line_and_left_untouched(cli, tmp_path: Path, capsys, argv) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "corrupt.db"
    db.write_bytes(b"this is not an sqlite database, just some bytes\n" * 200)
    before = _snapshot(tmp_path)
    code, _ = _run(cli, tmp_path, argv, f"sqlite:///{db}")
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "数据库文件已损坏或不是 SQLite 数据库" in line
    assert _snapshot(tmp_path) == before


def test_empty_file_is_not_a_qingqun_database(cli, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "empty.db"
    db.touch()
    before = _snapshot(tmp_path)
    code, _ = cli("audit", "--db", f"sqlite:///{db}")
    assert code == 2
    assert "不是清群数据库" in _one_error_line(capsys.readouterr().err)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("argv", READ_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_unreachable_postgresql_is_one_chinese_line(cli, tmp_path: Path, capsys, argv) -> None:  # type: ignore[no-untyped-def]
    before = _snapshot(tmp_path)
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    code, _ = _run(cli, tmp_path, argv, "postgresql://postgres@127.0.0.1:1/none")
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "无法连接数据库 postgresql+psycopg://postgres@127.0.0.1:1/none" in line
    assert _snapshot(tmp_path) == before


def test_postgresql_without_our_schema_is_refused_and_left_empty(cli, pg_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    code, _ = cli("audit", "--db", pg_url)
    assert code == 2
    assert "不是清群数据库" in _one_error_line(capsys.readouterr().err)
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        assert conn.execute(text(query)).scalar() == 0
    engine.dispose()


def test_missing_postgresql_database_is_named(cli, pg_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    head, _, _ = pg_url.rpartition("/")
    code, _ = cli("audit", "--db", f"{head}/qq_does_not_exist")
    assert code == 2
    assert "数据库不存在" in _one_error_line(capsys.readouterr().err)


def _set_revision(url: str, revision: str) -> None:
    from storage.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    engine.dispose()


def _migrate(url: str, revision: str = "head") -> None:
    from storage.db import make_engine
    from storage.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine, revision)
    engine.dispose()


def test_newer_schema_is_refused_by_reads_and_by_upgrade(cli, db_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    _migrate(db_url)
    _set_revision(db_url, "9999_from_the_future")
    for argv in (("audit",), ("digest", "preview")):
        code, _ = cli(*argv, "--db", db_url)
        line = _one_error_line(capsys.readouterr().err)
        assert code == 2
        assert "比本程序新" in line
        assert "9999_from_the_future" in line
    # A writer refuses too, with a line instead of Alembic's traceback.
    code, _ = cli("db", "upgrade", "--db", db_url)
    assert code == 2
    assert "无法升级数据库表结构" in capsys.readouterr().err


def test_older_schema_asks_for_an_upgrade_and_is_not_migrated(cli, db_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    _migrate(db_url, "0003")
    code, _ = cli("audit", "--db", db_url)
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "较旧" in line
    assert "qingqun db upgrade" in line
    from storage.db import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
    engine.dispose()


def test_rules_file_is_checked_before_the_database(cli, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QINGQUN_RULES_FILE", str(tmp_path / "no-such-rules.toml"))
    db = tmp_path / "x.db"
    for argv in (("audit",), ("digest", "preview")):
        code, _ = cli(*argv, "--db", f"sqlite:///{db}")
        line = _one_error_line(capsys.readouterr().err)
        assert code == 2
        assert "no-such-rules.toml" in line
    assert not db.exists()


def test_bad_setting_is_checked_before_the_database(cli, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QINGQUN_TIMEZONE", "Mars/Olympus")
    code, _ = cli("audit")
    assert code == 2
    assert "QINGQUN_TIMEZONE" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("ledger.pdf", "台账文件名须以 .xlsx 或 .csv 结尾"),
        ("folder.xlsx/", "台账输出路径是一个文件夹"),
        ("afile/ledger.xlsx", "不是文件夹"),
    ],
)
def test_ledger_output_is_checked_before_the_database(cli, tmp_path: Path, capsys, output, message) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "folder.xlsx").mkdir()
    (tmp_path / "afile").write_text("x")
    before = _snapshot(tmp_path)
    # A missing database: had it been touched first, the error would name it instead.
    code, _ = cli("ledger", "export", "--output", str(tmp_path / output), "--db", f"sqlite:///{tmp_path}/x.db")
    assert code == 2
    assert message in _one_error_line(capsys.readouterr().err)
    assert _snapshot(tmp_path) == before


def test_reads_of_a_good_sqlite_database_leave_its_files_as_they_were(cli, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db_dir = tmp_path / "db"
    url = _migrated_sqlite(db_dir / "q.db")
    before = _snapshot(db_dir)
    assert sorted(before) == ["q.db"]  # WAL files are removed when the last connection closes
    for argv in READ_COMMANDS:
        code, _ = _run(cli, tmp_path, argv, url)
        assert code == 0, capsys.readouterr().err
        assert _snapshot(db_dir) == before
    assert (tmp_path / "out" / "ledger.xlsx").exists()


def test_open_existing_refuses_writes_on_sqlite_and_postgresql(db_url: str) -> None:
    from sqlalchemy.exc import DBAPIError

    from storage.db import open_existing

    _migrate(db_url)
    engine = open_existing(db_url)
    try:
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text("INSERT INTO unit (name) VALUES ('x')"))
    finally:
        engine.dispose()


def test_created_database_and_data_dir_are_private(tmp_path: Path) -> None:
    from storage.db import make_engine

    data = tmp_path / "data"
    engine = make_engine(f"sqlite:///{data / 'q.db'}")
    with engine.begin() as conn:  # a write, so the -wal and -shm files exist
        conn.execute(text("CREATE TABLE t (x)"))
        assert (data / "q.db-wal").exists()
        modes = {p.name: p.stat().st_mode & 0o777 for p in data.iterdir()}
    engine.dispose()
    assert data.stat().st_mode & 0o777 == 0o700
    assert modes == {"q.db": 0o600, "q.db-wal": 0o600, "q.db-shm": 0o600}


def test_existing_data_dir_permissions_are_left_alone(tmp_path: Path) -> None:
    from storage.db import make_engine

    data = tmp_path / "shared"
    data.mkdir()
    os.chmod(data, 0o750)
    make_engine(f"sqlite:///{data / 'q.db'}").dispose()
    assert data.stat().st_mode & 0o777 == 0o750
    assert (data / "q.db").stat().st_mode & 0o777 == 0o600


def test_a_real_process_prints_exactly_one_line(tmp_path: Path) -> None:
    """Outside pytest's capture too: the installed entry point, a fresh interpreter."""
    env = {**os.environ, "QINGQUN_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", "--db", f"sqlite:///{tmp_path}/gone/x.db"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert _one_error_line(proc.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
