"""`qingqun demo`: the built-in township scenario end to end."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.cli.campaign import print_status
from bot.core.config import Settings
from bot.reports.campaign import campaign_report
from bot.reports.ledger import contact_names, export_ledger, print_audit
from bot.services.audit import run_audit
from bot.services.campaigns import campaign_status, start_campaign
from bot.sim.scenario import load_scenario
from bot.sim.simulate import run_simulation, write_transcript
from policies.rules import load_rules
from storage import outbox as outbox_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

SCENARIO = Path(__file__).parents[1] / "sim" / "data" / "township.yaml"
CAMPAIGN = "2026冬季清理"
CAMPAIGN_SCOPE = "郾城区"
CAMPAIGN_TARGET = 40.0
CAMPAIGN_DEADLINE = date(2026, 12, 31)


def _print_digests(engine: Engine, names: dict[str, str], tz: ZoneInfo, owners_shown: int = 3) -> None:
    """The digests the simulation delivered in its last week: all supervisors', a few owners'."""
    with session_scope(engine) as s:
        sent = outbox_db.outbox_rows(s, status="sent")
    kinds = (("owner_digest", "群主周报", owners_shown), ("supervisor_digest", "督导周报", None))
    for kind, title, limit in kinds:
        rows = [r for r in sent if r.kind == kind]
        if not rows:
            continue
        period = max(r.period for r in rows)
        latest = [r for r in rows if r.period == period]
        shown = latest[:limit] if limit else latest
        sys.stdout.write(f"\n== {title} {period}：共发出 {len(latest)} 份，示例 {len(shown)} 份 ==\n")
        for r in shown:
            who = names.get(r.recipient_id or "", r.recipient_id or "")
            where = f"私聊 {who}" if r.recipient_id else f"群 {r.room_id} 内@群主"
            at = f"{r.sent_at.astimezone(tz):%m-%d %H:%M}" if r.sent_at else "发送时间未确认"
            sys.stdout.write(f"-- {where}（{at}）\n{r.text}\n")


def run_demo(settings: Settings, out: Path, db_url: str | None, engines: list[Engine]) -> int:
    """Simulate the township; `engines` collects the engine for the caller to dispose."""
    out.mkdir(parents=True, exist_ok=True)
    sc = load_scenario(SCENARIO)
    if db_url is None:
        # A fresh database each run, so the demo always shows the same four weeks.
        db = out / "demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        settings = settings.model_copy(update={"database_url": f"sqlite:///{db}"})
    settings = settings.model_copy(update=sc.settings)
    engine = make_engine(settings.db_url)
    engines.append(engine)
    upgrade(engine)
    result = run_simulation(sc, settings, engine)
    write_transcript(result.sent, out / "transcript.jsonl", sc, settings)
    end = sc.end or sc.start
    rules = load_rules(settings.rules_file)
    rows, _ = run_audit(engine, rules, end, settings.tz)
    names = contact_names(engine)
    print_audit(rows, settings.tz, end, names)
    _print_digests(engine, names, settings.tz)
    ledger = out / "ledger.xlsx"
    export_ledger(rows, ledger, settings.tz, names=names, at=end.astimezone(settings.tz).date())
    # A campaign over the whole district, status on the last day. Its baseline is the day the
    # towns finished bringing the bot into their groups (the first week's last invitation):
    # a baseline on the very first morning would count most groups as new.
    first_week = [e.at for e in sc.events if e.kind == "invite" and e.at < sc.start + timedelta(days=7)]
    baseline_day = max(first_week, default=sc.start).astimezone(settings.tz).date()
    last_day = end.astimezone(settings.tz).date()
    start_campaign(
        engine,
        name=CAMPAIGN,
        scope=CAMPAIGN_SCOPE,
        at=baseline_day,
        target_pct=CAMPAIGN_TARGET,
        deadline=CAMPAIGN_DEADLINE,
        now=end,
        rules=rules,
    )
    sys.stdout.write("\n")
    print_status(campaign_status(engine, name=CAMPAIGN, at=last_day, now=end, rules=rules))
    report = campaign_report(engine, name=CAMPAIGN, at=last_day, now=end, rules=rules, out=out)
    written = [
        ("台账", ledger),
        ("专项行动报告", report.workbook),
        *(("图表", path) for path in report.charts.values()),
        ("网页（可离线打开）", report.index),
        ("发送记录", out / "transcript.jsonl"),
    ]
    sys.stdout.write(
        f"\n模拟 {result.events} 个事件、{result.messages} 条群消息；机器人发出 {len(result.sent)} 条消息。\n"
        + "".join(f"{what}：{path}\n" for what, path in written)
    )
    return 0
