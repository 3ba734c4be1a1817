"""`qingqun demo`: the built-in township scenario end to end."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.config import Settings

SCENARIO = Path(__file__).with_name("data") / "township.yaml"


def run_demo(settings: Settings, out: Path, db_url: str | None) -> int:
    from bot.audit import run_audit
    from bot.report import contact_names, export_ledger, print_audit, write_chart
    from bot.scenario import load_scenario
    from bot.simulate import run_simulation, write_transcript
    from policies.rules import load_rules
    from storage.db import make_engine
    from storage.migrate import upgrade

    out.mkdir(parents=True, exist_ok=True)
    sc = load_scenario(SCENARIO)
    if db_url is None:
        # A fresh database each run, so the demo always shows the same four weeks.
        db = out / "demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        settings = settings.model_copy(update={"database_url": f"sqlite:///{db}"})
    settings = settings.model_copy(update=sc.settings)
    from bot.cli import _ENGINES

    engine = make_engine(settings.db_url)
    _ENGINES.append(engine)
    upgrade(engine)
    result = run_simulation(sc, settings, engine)
    write_transcript(result.sent, out / "transcript.jsonl", sc, settings)
    end = sc.end or sc.start
    rows, _ = run_audit(engine, load_rules(settings.rules_file), end, settings.tz)
    print_audit(rows, settings.tz, end, contact_names(engine))
    export_ledger(rows, out / "ledger.xlsx", settings.tz)
    write_chart(rows, out / "chart.svg")
    sys.stdout.write(
        f"模拟 {result.events} 个事件、{result.messages} 条群消息；机器人发出 {len(result.sent)} 条消息。\n"
        f"台账：{out / 'ledger.xlsx'}  图表：{out / 'chart.svg'}  发送记录：{out / 'transcript.jsonl'}\n"
    )
    return 0
