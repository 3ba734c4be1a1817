"""The ledger (台账) export and the chart, from the foundation scenario."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from openpyxl import load_workbook

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

    xlsx = str(tmp_path / "l.xlsx")
    assert cli("ledger", "export", "--db", db, "--at", "2026-11-06", "--output", xlsx)[0] == 0
    sheet = load_workbook(tmp_path / "l.xlsx").active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("群ID", "群名", "群主")
    assert {row[0] for row in values[1:]} == set(by_id)


def test_demo_chart_has_sane_bars(tmp_path: Path) -> None:
    from bot.core.config import load_settings
    from bot.reports.ledger import write_chart
    from bot.services.audit import run_audit
    from bot.sim.scenario import load_scenario
    from bot.sim.simulate import run_simulation
    from policies.rules import load_rules
    from storage.db import make_engine
    from storage.migrate import upgrade

    sc = load_scenario(DATA / "core.yaml")
    settings = load_settings()
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        upgrade(engine)
        run_simulation(sc, settings, engine)
        rows, _ = run_audit(engine, load_rules(), sc.end or sc.start, settings.tz)
    finally:
        engine.dispose()
    write_chart(rows, tmp_path / "chart.svg")
    svg = (tmp_path / "chart.svg").read_text(encoding="utf-8")
    heights = [int(h) for h in re.findall(r'<rect [^>]*height="(-?\d+)"', svg)]
    assert heights
    assert all(h > 0 for h in heights)
    assert "共 4 个" in svg
