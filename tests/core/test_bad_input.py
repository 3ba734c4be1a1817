"""Bad input: one clear line, exit 2, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

GOOD_HEAD = """version: 1
start: "2026-11-02T08:00:00+08:00"
contacts: [{id: zhang, name: 张三}]
rooms: [{id: r1@chatroom, topic: 测试群, owner: zhang, members: [zhang]}]
timeline:
  - {at: "2026-11-02T09:00:00+08:00", invite: r1@chatroom, by: zhang}
"""


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            '  - {at: "2026-11-02T10:00:00+08:00", explode: r1@chatroom}\n',
            "timeline[1] (line 7): unknown event",
        ),
        (
            '  - {at: "yesterday", room: r1@chatroom, from: zhang, say: hi}\n',
            "timeline[1] (line 7): bad timestamp",
        ),
        (
            '  - {at: "2026-11-02T10:00:00+08:00", room: r9@chatroom, from: zhang, say: hi}\n',
            "timeline[1] (line 7): unknown room 'r9@chatroom'",
        ),
        (
            '  - {at: "2026-11-02T10:00:00+08:00", room: r1@chatroom, from: nobody, say: hi}\n',
            "timeline[1] (line 7): unknown contact 'nobody'",
        ),
        (
            '  - {at: "2026-11-01T10:00:00+08:00", room: r1@chatroom, from: zhang, say: hi}\n',
            "timeline[1] (line 7): events must be in time order",
        ),
    ],
)
def test_bad_scenario_names_the_entry_and_writes_nothing(
    cli, tmp_path: Path, capsys, entry: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD_HEAD + entry, encoding="utf-8")
    db = tmp_path / "never.db"
    code, _ = cli("simulate", str(path), "--db", f"sqlite:///{db}")
    err = capsys.readouterr().err
    assert code == 2
    assert f"bad.yaml: {message}" in err
    assert not db.exists()


def test_bad_database_url_is_one_line(cli, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _ = cli("audit", "--db", "mysql://nowhere/x")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("qingqun: error: unsupported database 'mysql'")


def test_unreachable_database_is_one_line(cli, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _ = cli("audit", "--db", "postgresql://postgres@127.0.0.1:1/none")
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("qingqun:")]
    assert code == 2
    assert len(lines) == 1
    assert "无法连接数据库" in lines[0]


def test_run_without_token_is_a_clear_error(cli, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in ("QINGQUN_GATEWAY_TOKEN", "WECHATY_PUPPET_SERVICE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QINGQUN_GATEWAY_ENDPOINT", "127.0.0.1:1")
    code, _ = cli("run")
    assert code == 2
    assert "qingqun: error: no gateway token: set QINGQUN_GATEWAY_TOKEN" in capsys.readouterr().err


def test_run_with_unreachable_gateway_is_a_clear_error(cli, capsys, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QINGQUN_GATEWAY_TOKEN", "t")
    monkeypatch.setenv("QINGQUN_GATEWAY_ENDPOINT", "127.0.0.1:1")
    code, _ = cli("run", "--db", f"sqlite:///{tmp_path / 'q.db'}")
    assert code == 2
    assert "gateway 127.0.0.1:1 is not reachable" in capsys.readouterr().err


def test_bad_setting_names_the_variable(cli, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QINGQUN_TIMEZONE", "Mars/Olympus")
    code, _ = cli("audit")
    assert code == 2
    assert "QINGQUN_TIMEZONE" in capsys.readouterr().err


def test_settings_accept_the_standard_wechaty_names(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.core.config import load_settings

    monkeypatch.setenv("WECHATY_PUPPET_SERVICE_TOKEN", "tok")
    monkeypatch.setenv("WECHATY_PUPPET_SERVICE_ENDPOINT", "127.0.0.1:8788")
    assert load_settings().require_gateway() == ("127.0.0.1:8788", "tok")


def test_settings_read_an_optional_toml_file(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from bot.core.config import load_settings

    cfg = tmp_path / "qingqun.toml"
    cfg.write_text('bot_name = "清群小助手"\ndatabase_url = "postgres://u@h/db"\n', encoding="utf-8")
    monkeypatch.setenv("QINGQUN_CONFIG", str(cfg))
    s = load_settings()
    assert s.bot_name == "清群小助手"
    assert s.db_url == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("QINGQUN_BOT_NAME", "环境变量优先")
    assert load_settings().bot_name == "环境变量优先"
