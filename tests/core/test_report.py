"""The ledger (台账) export from the foundation scenario, and what `qingqun demo` writes."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from openpyxl import load_workbook

from bot.reports.ledger import LEDGER_COLUMNS

DATA = Path(__file__).parent / "data"


def test_ledger_export_csv_and_xlsx(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'q.db'}"
    assert cli("simulate", str(DATA / "core.yaml"), "--db", db)[0] == 0
    code, out = cli("ledger", "export", "--db", db, "--at", "2026-11-06", "--output", str(tmp_path / "l.csv"))
    assert code == 0
    assert "台账已导出" in out
    with (tmp_path / "l.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    by_id = {r["群ID"]: r for r in rows}
    assert set(by_id) == {"r0@chatroom", "r1@chatroom", "r2@chatroom", "r3@chatroom"}
    assert by_id["r2@chatroom"]["状态"] == "已移出机器人"
    assert by_id["r3@chatroom"]["状态"] == "已解散"
    assert by_id["r1@chatroom"]["近30天消息"] == "3"

    # Owners by name, never by WeChat id.
    assert {r["群主"] for r in rows} == {"张三", "李四"}
    assert by_id["r1@chatroom"]["最后发言"] == "2026-11-06T10:00:00+08:00"

    xlsx = str(tmp_path / "l.xlsx")
    assert cli("ledger", "export", "--db", db, "--at", "2026-11-06", "--output", xlsx)[0] == 0
    wb = load_workbook(tmp_path / "l.xlsx")
    assert wb.sheetnames == ["工作群台账", "按单位汇总"]
    sheet = wb["工作群台账"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "工作群台账（截至 2026-11-06，共 4 个群）"
    assert values[1] == tuple(LEDGER_COLUMNS)
    ledger = {row[0]: dict(zip(LEDGER_COLUMNS, row, strict=True)) for row in values[2:]}
    assert set(ledger) == set(by_id)
    assert ledger["r1@chatroom"]["群主"] == "张三"
    assert ledger["r0@chatroom"]["群主"] == "李四"
    # Real Excel values: a datetime in local wall time, numbers as numbers.
    assert ledger["r1@chatroom"]["最后发言"] == datetime(2026, 11, 6, 10, 0)
    assert ledger["r1@chatroom"]["近30天消息"] == 3
    last = sheet.cell(3, LEDGER_COLUMNS.index("最后发言") + 1)
    assert last.is_date
    assert last.number_format == "yyyy-mm-dd hh:mm"
    assert (sheet.freeze_panes, sheet.auto_filter.ref, sheet.print_title_rows) == ("C3", "A2:M6", "$1:$2")
    assert sheet.page_setup.orientation == "landscape"
    assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4

    summary = wb["按单位汇总"]
    rows_s = list(summary.iter_rows(values_only=True))
    header = rows_s[1]
    table = {r[0]: dict(zip(header, r, strict=True)) for r in rows_s[2:]}
    assert set(table) == {"黑龙潭镇", "合计"}
    assert {k: table["合计"][k] for k in ("群数", "在用", "已移出机器人", "已解散", "未登记")} == {
        "群数": 4, "在用": 2, "已移出机器人": 1, "已解散": 1, "未登记": 2,
    }


def test_ledger_registered_kinds_dates_and_labels_roll_up_by_unit(tmp_path: Path) -> None:
    """The township scenario has registrations, end dates and labels: the 按单位汇总 columns
    add up to the ledger sheet's rows, unit by unit."""
    from bot.cli.demo import SCENARIO
    from bot.core.config import load_settings
    from bot.reports.ledger import contact_names, export_ledger
    from bot.services.audit import run_audit
    from bot.sim.scenario import load_scenario
    from bot.sim.simulate import run_simulation
    from policies.rules import load_rules
    from storage.db import make_engine
    from storage.migrate import upgrade

    sc = load_scenario(SCENARIO)
    settings = load_settings().model_copy(update=sc.settings)
    engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    try:
        upgrade(engine)
        run_simulation(sc, settings, engine)
        end = sc.end or sc.start
        rows, _ = run_audit(engine, load_rules(), end, settings.tz)
        names = contact_names(engine)
    finally:
        engine.dispose()
    export_ledger(rows, tmp_path / "t.xlsx", settings.tz, names=names, at=end.date())
    wb = load_workbook(tmp_path / "t.xlsx")
    ledger = list(wb["工作群台账"].iter_rows(min_row=3, values_only=True))
    col = {h: i for i, h in enumerate(LEDGER_COLUMNS)}
    assert all(not str(r[col["群主"]]).startswith("wxid") and r[col["群主"]] not in names for r in ledger)
    dates = [r[col["截止日期"]] for r in ledger if r[col["截止日期"]] is not None]
    assert dates
    assert all(isinstance(d, datetime) for d in dates)
    summary = list(wb["按单位汇总"].iter_rows(min_row=2, values_only=True))
    header, body = summary[0], summary[1:]
    units = {r[0]: dict(zip(header, r, strict=True)) for r in body}
    assert body[-1][0] == "合计"
    assert any(h in header for h in ("僵尸群", "重复群", "未登记", "临时群到期未解散"))
    for unit, figures in units.items():
        mine = [r for r in ledger if unit in ("合计", r[col["单位"]] or "（未指定单位）")]
        assert figures["群数"] == len(mine)
        assert figures["在用"] == sum(r[col["状态"]] == "在用" for r in mine)
        active = [r for r in mine if r[col["状态"]] == "在用"]
        for kind in ("常设", "临时", "阶段性", "未登记"):
            assert figures[kind] == sum(r[col["类型"]] == kind for r in active)
        assert figures["待审批"] == sum(bool(r[col["待审批"]]) for r in active)
        assert figures["建议解散或合并"] == sum(
            bool(r[col["建议动作"]]) and ("解散" in r[col["建议动作"]] or "合并" in r[col["建议动作"]])
            for r in active
        )
    for unit in units:
        assert unit == "合计" or any(r[col["单位"]] == unit for r in ledger) or unit == "（未指定单位）"


def test_demo_writes_the_campaign_report(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`qingqun demo`: the campaign's status table on the terminal, and beside the ledger the
    campaign workbook, its charts (PNG, no hand-drawn SVG any more) and index.html."""
    from datetime import UTC, date

    from bot.core.config import load_settings
    from bot.reports.campaign import CHART_FILES
    from bot.services.campaigns import campaign_status
    from policies.rules import load_rules
    from storage.db import make_engine

    out = tmp_path / "out"
    code, text = cli("demo", "--out", str(out))
    assert code == 0
    assert "专项行动“2026冬季清理”（郾城区，基线日 2026-11-05，截至 2026-11-30）" in text
    assert "合计（郾城区）" in text
    written = [out / "ledger.xlsx", out / "2026冬季清理.xlsx", out / "index.html",
               *(out / name for name in CHART_FILES.values())]  # fmt: skip
    for path in written:
        assert path.is_file(), path
        assert str(path) in text
    assert not (out / "chart.svg").exists()
    engine = make_engine(f"sqlite:///{out / 'demo.db'}")
    try:
        status = campaign_status(
            engine,
            name="2026冬季清理",
            at=date(2026, 11, 30),
            now=datetime(2026, 11, 30, 12, tzinfo=UTC),
            rules=load_rules(load_settings().rules_file),
        )
    finally:
        engine.dispose()
    total = load_workbook(out / "2026冬季清理.xlsx")["汇总表"]
    last = [c.value for c in total[total.max_row]]
    assert last[:7] == ["合计", 31, 2, 0, 1, 0, 29]
    assert last[1:7] == [status.total.baseline, status.total.dissolved, status.total.merged,
                         status.total.removed, status.total.new, status.total.active]  # fmt: skip
