"""`qingqun status`: heartbeats, the account's login state, the outbox, the next digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.run import single_instance_lock
from bot.core.config import ConfigError, load_settings
from storage import instances as instances_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import Instance


def _db(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def _beat(url: str, **fields: object) -> None:
    now = datetime.now(UTC)
    row = Instance(
        id="host:1:1", host="host", pid=1, account="wxid_bot", logged_in=True, connected=True,
        last_event_at=now, leader=True, started_at=now, updated_at=now,
    )  # fmt: skip
    for k, v in fields.items():
        setattr(row, k, v)
    engine = make_engine(url)
    with session_scope(engine) as s:
        instances_db.upsert_instance(s, row=row)
    engine.dispose()


def test_a_fresh_logged_in_instance_is_healthy(cli, db_url: str) -> None:  # type: ignore[no-untyped-def]
    _db(db_url)
    _beat(db_url)
    code, out = cli("status", "--db", db_url, "--json", "--check")
    assert code == 0, out
    data = json.loads(out)
    assert set(data) >= {"instances", "rooms_active", "outbox_pending", "outbox_failed_24h", "next_digest_at"}
    (inst,) = data["instances"]
    assert (inst["instance"], inst["account"], inst["logged_in"], inst["leader"]) == (
        "host:1:1", "wxid_bot", True, True,
    )  # fmt: skip
    assert data["healthy"] is True
    assert data["next_digest_at"] is not None


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"updated_at": datetime.now(UTC) - timedelta(minutes=5)}, "没有正在运行的 qingqun run"),
        (
            {"logged_in": False, "logged_out_since": datetime.now(UTC) - timedelta(hours=2)},
            "分钟未登录",
        ),
    ],
)
def test_check_fails_without_a_fresh_heartbeat_or_logged_out_too_long(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, fields: dict[str, object], problem: str
) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    _db(url)
    _beat(url, **fields)
    code, out = cli("status", "--db", url, "--check")
    assert code == 1
    assert problem in out


def test_no_instance_at_all_fails_the_check(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'q.db'}"
    _db(url)
    code, out = cli("status", "--db", url, "--json", "--check")
    assert code == 1
    assert json.loads(out)["instances"] == []


def test_status_never_creates_a_database(cli, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "none" / "q.db"
    code, _ = cli("status", "--db", f"sqlite:///{db}", "--check")
    assert code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "数据库" in err[0]
    assert not db.parent.exists()


def test_a_second_run_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    settings = load_settings(database_url=url, data_dir=tmp_path)
    engine = make_engine(settings.db_url)
    try:
        first = single_instance_lock(engine)
        assert first is not None
        with pytest.raises(ConfigError, match="SQLite 只能运行一个实例"):
            single_instance_lock(engine)
        first.close()  # the first instance stops: the next one may start
        again = single_instance_lock(engine)
        assert again is not None
        again.close()
    finally:
        engine.dispose()
