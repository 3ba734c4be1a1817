"""Every refusal of `qingqun campaign …`: one Chinese line, exit 2, nothing written."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

ROSTER = """
units:
  - {name: 郾城区}
  - {name: 黑龙潭镇, parent: 郾城区}
contacts:
  - {id: zhang, name: 张三, unit: 黑龙潭镇}
"""


@pytest.fixture
def db(cli: Any, tmp_path: Path) -> str:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'campaigns.db'}"
    code, _ = cli("roster", "import", str(roster), "--db", url)
    assert code == 0
    return url


def _listed(cli: Any, db: str) -> list[Any]:
    code, out = cli("campaign", "list", "--json", "--db", db)
    assert code == 0
    result: list[Any] = json.loads(out)
    return result


def _refused(cli: Any, capsys: Any, *args: str) -> str:
    capsys.readouterr()
    code, out = cli(*args)
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("qingqun:")]
    assert code == 2, out
    assert out == ""
    assert len(err) == 1
    return err[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--scope", "不存在镇"), "没有名为“不存在镇”的单位"),
        (("--scope", "郾城区", "--at", "2099-01-01"), "基线日 2099-01-01 在今天"),
        (("--scope", "郾城区", "--target", "120"), "目标清理率 120 不在 0 到 100 之间"),
        (("--scope", "郾城区", "--target", "-5"), "目标清理率 -5 不在 0 到 100 之间"),
        (
            ("--scope", "郾城区", "--at", "2026-10-12", "--deadline", "2026-10-01"),
            "截止日期 2026-10-01 早于基线日",
        ),
    ],
)
def test_start_refusals_write_nothing(
    cli: Any, capsys: Any, db: str, extra: tuple[str, ...], message: str
) -> None:
    line = _refused(cli, capsys, "campaign", "start", "冬季清理", *extra, "--db", db)
    assert message in line
    assert _listed(cli, db) == []


def test_duplicate_name_is_refused(cli: Any, capsys: Any, db: str) -> None:
    code, out = cli("campaign", "start", "冬季清理", "--scope", "郾城区", "--db", db)
    assert code == 0
    assert "基线 0 个群" in out
    first = _listed(cli, db)
    line = _refused(cli, capsys, "campaign", "start", "冬季清理", "--scope", "黑龙潭镇", "--db", db)
    assert "已有名为“冬季清理”的专项行动" in line
    assert _listed(cli, db) == first
    assert first[0]["scope"] == "郾城区"
    assert first[0]["target_pct"] is None
    assert first[0]["deadline"] is None


def test_status_and_recheck_refusals(cli: Any, capsys: Any, db: str) -> None:
    assert "没有名为“无此行动”的专项行动" in _refused(
        cli, capsys, "campaign", "status", "无此行动", "--db", db
    )
    assert "没有名为“无此行动”的专项行动" in _refused(
        cli, capsys, "campaign", "recheck", "无此行动", "--db", db
    )
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    code, _ = cli("campaign", "start", "冬季清理", "--scope", "郾城区", "--at", yesterday, "--db", db)
    assert code == 0
    earlier = (date.today() - timedelta(days=3)).isoformat()
    assert "早于基线日" in _refused(
        cli, capsys, "campaign", "status", "冬季清理", "--at", earlier, "--db", db
    )
    assert "在今天" in _refused(
        cli, capsys, "campaign", "recheck", "冬季清理", "--at", "2099-01-01", "--db", db
    )
    code, out = cli("campaign", "status", "冬季清理", "--json", "--db", db)
    assert code == 0
    status = json.loads(out)
    assert status["target_pct"] is None
    assert status["deadline"] is None
    assert status["units"] == [
        {
            "unit": "黑龙潭镇",
            "baseline": 0,
            "dissolved": 0,
            "merged": 0,
            "removed": 0,
            "new": 0,
            "active": 0,
            "reduction_pct": None,
        }
    ]


def test_reading_a_missing_database_creates_nothing(cli: Any, capsys: Any, tmp_path: Path) -> None:
    path = tmp_path / "nothing.db"
    for args in (("list",), ("status", "冬季清理"), ("recheck", "冬季清理")):
        line = _refused(cli, capsys, "campaign", *args, "--db", f"sqlite:///{path}")
        assert "数据库不存在" in line
    assert not path.exists()
