"""`qingqun campaign report` on the campaign scenario of tests/campaigns (plus a 常设 group that
is approved and one awaiting approval, for the 备案表), on SQLite and PostgreSQL: the workbook's
sheets and columns, its 汇总表 against `campaign status --json`, names instead of WeChat ids,
the charts' glyphs, and index.html in headless Chromium."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from matplotlib.image import imread
from openpyxl import load_workbook
from test_html import HEIGHT, screenshot

CAMPAIGNS = Path(__file__).parents[1] / "campaigns" / "data"
NAME = "2026冬季清理"
BASELINE_DAY = "2026-10-12"
AT = "2026-11-20"
SHEETS = ["汇总表", "清理统计表", "备案表", "回头看"]
HEADERS = {
    "汇总表": ["单位", "清理前总数", "解散数", "整合数", "机器人被移出", "新建数", "现有数", "清理率", "目标",
               "完成情况"],
    "清理统计表": ["单位", "群名称", "群主", "人数", "建群/入群时间", "类型", "用途", "截止日期", "处理方式",
                   "整合去向", "处理时间", "当前标签及原因", "清理前/新建"],
    "备案表": ["单位", "群名称", "群主", "管理员", "成员人数", "用途", "类型", "截止日期", "审批人",
               "审批日期"],
    "回头看": ["类别", "群名称", "单位", "群主", "相关群", "说明"],
}  # fmt: skip
# a1 is registered 常设 and approved by the district's supervisor; a8 asks and is still waiting.
EXTRA_EVENTS = """\
  - {at: "2026-09-01T10:05:00+08:00", room: a1@chatroom, from: zhang, say: "@清群助手 登记 常设 党建日常工作"}
  - {at: "2026-09-01T10:10:00+08:00", from: shuji, say: "批准 1"}
"""
LATE_EVENT = """\
  - {at: "2026-11-06T09:00:00+08:00", room: a8@chatroom, from: xin, say: "@清群助手 登记 常设 冬季供暖"}
"""


def _scenario(tmp_path: Path) -> Path:
    text = (CAMPAIGNS / "campaign.yaml").read_text(encoding="utf-8")
    anchor = '登记 临时 2026-10-31 秋季防火"}\n'
    late_anchor = '  - {at: "2026-11-10T09:00:00+08:00", dissolve: a10@chatroom, by: xin}\n'
    assert anchor in text
    assert late_anchor in text
    text = text.replace(anchor, anchor + EXTRA_EVENTS).replace(late_anchor, LATE_EVENT + late_anchor)
    path = tmp_path / "campaign.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def report(cli: Any, db_url: str, tmp_path: Path) -> tuple[str, Path, dict[str, Any]]:
    """(database, report folder, the scenario) after simulating, starting and reporting."""
    scenario = _scenario(tmp_path)
    code, out = cli("simulate", str(scenario), "--db", db_url)
    assert code == 0, out
    code, out = cli("campaign", "start", NAME, "--scope", "郾城区", "--at", BASELINE_DAY, "--target", "40",
                    "--deadline", "2026-12-31", "--db", db_url)  # fmt: skip
    assert code == 0, out
    folder = tmp_path / "报告"
    code, out = cli("campaign", "report", NAME, "--output", str(folder), "--at", AT, "--db", db_url)
    assert code == 0, out
    assert str(folder / f"{NAME}.xlsx") in out
    assert str(folder / "index.html") in out
    return db_url, folder, yaml.safe_load(scenario.read_text(encoding="utf-8"))


def _rows(ws: Any) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(min_row=3, values_only=True)]


def test_the_workbook_has_the_forms_and_agrees_with_status(cli: Any, report: tuple[str, Path, Any]) -> None:
    db, folder, scenario = report
    status = json.loads(cli("campaign", "status", NAME, "--at", AT, "--json", "--db", db)[1])
    findings = json.loads(cli("campaign", "recheck", NAME, "--at", AT, "--json", "--db", db)[1])
    wb = load_workbook(folder / f"{NAME}.xlsx")
    assert wb.sheetnames == SHEETS
    for ws in wb:
        title = ws.cell(1, 1).value
        for part in (NAME, "范围 郾城区", f"基线日 {BASELINE_DAY}", f"截至 {AT}"):
            assert part in title, title
        assert [c.value for c in ws[2]] == HEADERS[ws.title]
        assert str(ws.freeze_panes).endswith("3")
        assert str(ws.auto_filter.ref).startswith("A2:")
        assert ws.page_setup.orientation == "landscape"

    # 汇总表 = `campaign status --json`, figure by figure, the total last.
    summary = _rows(wb["汇总表"])
    expected = [*status["units"], status["total"]]
    assert len(summary) == len(expected)
    fields = ["baseline", "dissolved", "merged", "removed", "new", "active", "reduction_pct"]
    for row, want in zip(summary, expected, strict=True):
        assert row[0] == ("合计" if want is status["total"] else want["unit"])
        assert row[1:8] == [want[f] for f in fields], (row, want)
        assert row[8] == status["target_pct"]
        assert all(isinstance(v, int | float) for v in row[1:9])
    assert summary[-1][9] == "28%（11.11/40）"
    assert wb["汇总表"].cell(3, 8).number_format == '0.00"%"'

    # 清理统计表: every baseline group and every group enrolled since, with its outcome.
    col = {h: i for i, h in enumerate(HEADERS["清理统计表"])}
    groups = {r[col["群名称"]]: r for r in _rows(wb["清理统计表"])}
    total = status["total"]
    assert sum(r[col["清理前/新建"]] == "清理前" for r in groups.values()) == total["baseline"] == 9
    assert {t for t, r in groups.items() if r[col["清理前/新建"]] == "新建"} == {
        "新店镇冬季供暖群", "迎检材料报送群", "新店镇临时会务群"}  # fmt: skip
    base = [r for r in groups.values() if r[col["清理前/新建"]] == "清理前"]
    outcomes = [r[col["处理方式"]] for r in base]
    assert outcomes.count("整合") == total["merged"]
    assert outcomes.count("解散") == total["dissolved"]
    assert outcomes.count("机器人被移出") == total["removed"]
    assert set(outcomes) <= {"保留", "待处理", "整合", "解散", "机器人被移出"}
    merged = groups["黑龙潭镇防汛值守群"]
    assert merged[col["整合去向"]].startswith("黑龙潭镇党建工作群（成员重合 86%")
    assert groups["黑龙潭镇迎检材料群"][col["整合去向"]].startswith("迎检材料报送群")
    assert merged[col["处理时间"]] == datetime(2026, 10, 20, 9, 0)  # Beijing wall time, a real date
    assert merged[col["人数"]] == 7  # its members on the day before it was disbanded
    assert merged[col["群主"]] == "成员六"
    assert groups["新店镇秋季防火群"][col["截止日期"]] == datetime(2026, 10, 31)
    assert "临时群到期未解散" in groups["新店镇秋季防火群"][col["当前标签及原因"]]
    assert groups["黑龙潭镇党建工作群"][col["处理方式"]] == "保留"  # approved 常设, no label left
    assert groups["新店镇冬季供暖群"][col["处理方式"]] == "待处理"  # 常设 awaiting approval
    assert isinstance(groups["黑龙潭镇党建工作群"][col["建群/入群时间"]], datetime)

    # 备案表: the approved 常设 group with its approver, and the one still waiting.
    filed = {r[1]: r for r in _rows(wb["备案表"])}
    assert set(filed) == {"黑龙潭镇党建工作群", "新店镇冬季供暖群"}
    a1 = filed["黑龙潭镇党建工作群"]
    assert a1[:3] == ["黑龙潭镇", "黑龙潭镇党建工作群", "张三"]
    assert a1[4:] == [6, "党建日常工作", "常设", None, "赵书记", datetime(2026, 9, 1)]
    assert filed["新店镇冬季供暖群"][6:] == ["常设（待审批）", None, None, None]

    # 回头看 = `campaign recheck --json`, the related group by its name.
    rows = _rows(wb["回头看"])
    assert [(r[1], r[5]) for r in rows] == [(f["topic"], f["reason"]) for f in findings]
    assert [r[0] for r in rows] == [
        "新建",
        "换名重建",
        "改名规避",
        "僵尸复活",
        "移出机器人仍存",
        "到期未解散",
    ]
    assert rows[1][3:5] == ["李四", "黑龙潭镇迎检材料群"]

    # People by name: no WeChat id of a contact, a room or the bot anywhere in the workbook.
    ids = {c["id"] for c in scenario["contacts"]} | {r["id"] for r in scenario["rooms"]} | {"qingqun-bot"}
    for ws in wb:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    tokens = set(re.findall(r"[A-Za-z0-9_@.-]+", value))
                    assert not tokens & ids, (ws.title, value)
                    assert "@chatroom" not in value


def test_the_charts_draw_every_character(report: tuple[str, Path, Any]) -> None:
    from bot.reports import campaign as rc
    from bot.reports import campaign_charts as cc
    from bot.reports import charts
    from bot.reports.fonts import uncovered
    from bot.reports.ledger import contact_names
    from bot.services.campaign_groups import campaign_detail
    from bot.services.campaigns import campaign_status
    from policies.rules import load_rules
    from storage.db import make_engine

    db, folder, _ = report
    for name in rc.CHART_FILES.values():
        pixels = imread(folder / name)[..., :3]
        assert pixels.shape[1] == round(9 * charts.DPI)
        assert float(np.std(pixels.mean(axis=2))) > 0.05, name
    rules = load_rules()
    now = datetime(2026, 11, 21, 10, tzinfo=UTC)
    engine = make_engine(db)
    try:
        detail = campaign_detail(engine, name=NAME, at=date(2026, 11, 20), now=now, rules=rules)
        days = rc.week_ends(date(2026, 10, 12), date(2026, 11, 20))
        weekly = [campaign_status(engine, name=NAME, at=d, now=now, rules=rules) for d in days]
        names = contact_names(engine)
    finally:
        engine.dispose()
    assert [d.isoformat()[5:] for d in days] == [
        "10-12",
        "10-18",
        "10-25",
        "11-01",
        "11-08",
        "11-15",
        "11-20",
    ]
    trend = cc.trend_chart(weekly)
    assert [sum(s.active[i] for s in trend.units) for i in range(len(days))] == [9, 9, 8, 8, 9, 8, 8]
    burden = cc.burden_chart(detail, names)
    assert sorted(burden.people, key=lambda p: -p.groups)[0] == charts.PersonGroups("辛主任", 4)
    figures = [
        charts.trend_figure(trend),
        charts.reduction_figure(cc.reduction_chart(detail.status)),
        charts.burden_figure(burden),
        charts.labels_figure(cc.label_chart(detail)),
    ]
    for fig in figures:
        texts = charts.drawn_text(fig)
        assert uncovered("".join(texts)) == "", texts
        assert not any("@chatroom" in t for t in texts)


def test_index_html_renders(report: tuple[str, Path, Any], tmp_path: Path) -> None:
    _, folder, _ = report
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == 4
    assert '<tr class="total"><td>合计</td><td class="num">9</td>' in html
    pixels = screenshot(folder / "index.html", tmp_path)
    grey = pixels.mean(axis=2)
    assert (grey < 0.4).mean() > 0.002  # text was drawn
    colourful = (pixels.max(axis=2) - pixels.min(axis=2)) > 0.3
    assert colourful[HEIGHT // 2 :].mean() > 0.01  # the charts, below the table


def test_output_problems_are_one_line_before_the_database(
    cli: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("x", encoding="utf-8")
    db = tmp_path / "never.db"
    for folder, words in ((taken, "报告输出路径不是文件夹"), (taken / "sub", "下建报告文件夹：它不是文件夹")):
        capsys.readouterr()
        code, out = cli("campaign", "report", NAME, "--output", str(folder), "--db", f"sqlite:///{db}")
        assert code == 2
        assert out == ""
        err = capsys.readouterr().err
        assert words in err
        assert err.count("\n") == 1, err
    assert not db.exists()
    code, _ = cli("campaign", "report", NAME, "--output", str(tmp_path / "out"), "--db", f"sqlite:///{db}")
    assert code == 2
    assert not db.exists()  # a read never creates the database
    assert not (tmp_path / "out").exists()


def test_an_unknown_campaign_is_refused(cli: Any, report: tuple[str, Path, Any], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    db, _, _ = report
    capsys.readouterr()
    code, _ = cli("campaign", "report", "没有这个", "--output", str(tmp_path / "x"), "--db", db)
    assert code == 2
    assert "没有名为“没有这个”的专项行动" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
