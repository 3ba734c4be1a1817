"""`qingqun campaign start|list|status|recheck|report`: thin calls into bot.services.campaigns
and bot.reports.campaign."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.cli.common import CliError, date_arg, open_engine, rules_for, settings_for
from bot.core.clock import SystemClock
from bot.core.wording import FINDING_CN
from bot.reports.campaign import campaign_report, output_problem, progress_text
from bot.services.campaigns import (
    CampaignError,
    CampaignStatus,
    campaign_recheck,
    campaign_status,
    list_campaigns,
    start_campaign,
)


def _pct(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"目标清理率应为数字（0 到 100）：{value!r}") from None


def add_parser(subparsers: Any) -> None:
    """Register `campaign` and its subcommands on the top-level parser's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help="database URL (overrides QINGQUN_DATABASE_URL)")
    p = subparsers.add_parser("campaign", parents=[common], help="cleanup campaigns (专项清理)")
    sub = p.add_subparsers(dest="campaign_command", required=True)

    s = sub.add_parser("start", parents=[common], help="start a campaign and freeze its baseline")
    s.add_argument("name")
    s.add_argument("--scope", required=True, metavar="UNIT")
    s.add_argument("--at", type=date_arg, metavar="YYYY-MM-DD", help="baseline day (default today)")
    s.add_argument("--target", type=_pct, metavar="PCT", help="target reduction in percent")
    s.add_argument("--deadline", type=date_arg, metavar="YYYY-MM-DD")
    s.set_defaults(func=cmd_start)

    s = sub.add_parser("list", parents=[common], help="every campaign")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("status", parents=[common], help="figures by unit")
    s.add_argument("name")
    s.add_argument("--at", type=date_arg, metavar="YYYY-MM-DD")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("recheck", parents=[common], help="回头看 findings")
    s.add_argument("name")
    s.add_argument("--at", type=date_arg, metavar="YYYY-MM-DD")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_recheck)

    s = sub.add_parser("report", parents=[common], help="workbook, charts and index.html into DIR")
    s.add_argument("name")
    s.add_argument("--output", required=True, metavar="DIR")
    s.add_argument("--at", type=date_arg, metavar="YYYY-MM-DD")
    s.set_defaults(func=cmd_report)


def _context(args: argparse.Namespace) -> tuple[Any, Any, datetime]:
    """(engine, rules, now) for an existing database; a missing SQLite file is an error, not created."""

    settings = settings_for(args)
    url = settings.db_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url[len("sqlite:///") :])
        if not path.exists():
            raise CliError(f"数据库不存在：{path}（请先运行机器人或导入名册）")
    return open_engine(settings), rules_for(settings), SystemClock().now()


def _run(call: Any) -> Any:

    try:
        return call()
    except CampaignError as exc:
        raise CliError(str(exc)) from exc


def cmd_start(args: argparse.Namespace) -> int:

    engine, rules, now = _context(args)
    campaign, size = _run(
        lambda: start_campaign(
            engine,
            name=args.name,
            scope=args.scope,
            at=args.at,
            target_pct=args.target,
            deadline=args.deadline,
            now=now,
            rules=rules,
        )
    )
    target = f"，目标清理率 {campaign.target_pct:g}%" if campaign.target_pct is not None else ""
    deadline = f"，截止 {campaign.deadline.isoformat()}" if campaign.deadline else ""
    sys.stdout.write(
        f"已启动专项行动“{campaign.name}”：范围 {campaign.scope}，基线日 "
        f"{campaign.baseline_date.isoformat()}，基线 {size} 个群{target}{deadline}\n"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:

    engine, _, _ = _context(args)
    rows = list_campaigns(engine)
    if args.json:
        out = [
            {
                "campaign": c.name,
                "scope": c.scope,
                "baseline_date": c.baseline_date.isoformat(),
                "target_pct": c.target_pct,
                "deadline": c.deadline.isoformat() if c.deadline else None,
                "baseline": size,
            }
            for c, size in rows
        ]
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
        return 0
    if not rows:
        sys.stdout.write("还没有专项行动。用 qingqun campaign start 名称 --scope 单位 启动。\n")
        return 0
    table = Table(title="专项行动")
    for name in ("名称", "范围", "基线日", "基线群数", "目标清理率", "截止日期"):
        table.add_column(name)
    for c, size in rows:
        table.add_row(
            escape(c.name),
            escape(c.scope),
            c.baseline_date.isoformat(),
            str(size),
            f"{c.target_pct:g}%" if c.target_pct is not None else "-",
            c.deadline.isoformat() if c.deadline else "-",
        )
    Console(width=120).print(table)
    return 0


def days_left_text(deadline: date | None, at: date) -> str:
    if deadline is None:
        return "未设截止日期"
    days = (deadline - at).days
    if days > 0:
        return f"距截止 {deadline.isoformat()} 还有 {days} 天"
    if days == 0:
        return f"今天（{deadline.isoformat()}）截止"
    return f"已过截止日期 {deadline.isoformat()} {-days} 天"


def print_status(status: CampaignStatus) -> None:
    """The status table: one row per unit, the total, progress against the target, days left."""
    c = status.campaign
    target = f"目标 {c.target_pct:g}%" if c.target_pct is not None else "未设目标"
    table = Table(
        title=f"专项行动“{escape(c.name)}”（{escape(c.scope)}，基线日 {c.baseline_date.isoformat()}，"
        f"截至 {status.at.isoformat()}）",
        caption=f"{target}；{days_left_text(c.deadline, status.at)}",
        show_footer=False,
    )
    for name in ("单位", "基线", "已解散", "已合并", "移出机器人", "新增", "现存", "清理率", "目标进度"):
        table.add_column(name, justify="left" if name == "单位" else "right")
    for row in [*status.units, status.total]:
        label = f"合计（{row.unit}）" if row is status.total else row.unit
        pct = row.reduction_pct
        table.add_row(
            escape(label),
            str(row.baseline),
            str(row.dissolved),
            str(row.merged),
            str(row.removed),
            str(row.new),
            str(row.active),
            f"{pct:.2f}%" if pct is not None else "-",
            progress_text(pct, c.target_pct),
            end_section=row is status.units[-1] if status.units else False,
        )
    Console(width=140).print(table)


def cmd_status(args: argparse.Namespace) -> int:

    engine, rules, now = _context(args)
    status = _run(lambda: campaign_status(engine, name=args.name, at=args.at, now=now, rules=rules))
    if args.json:
        sys.stdout.write(json.dumps(status.as_json(), ensure_ascii=False, indent=2) + "\n")
        return 0
    print_status(status)
    return 0


def cmd_recheck(args: argparse.Namespace) -> int:

    engine, rules, now = _context(args)
    campaign, day, found = _run(
        lambda: campaign_recheck(engine, name=args.name, at=args.at, now=now, rules=rules)
    )
    if args.json:
        sys.stdout.write(json.dumps([f.as_json() for f in found], ensure_ascii=False, indent=2) + "\n")
        return 0
    if not found:
        sys.stdout.write(f"专项行动“{campaign.name}”回头看（截至 {day.isoformat()}）：未发现问题。\n")
        return 0
    table = Table(title=f"专项行动“{escape(campaign.name)}”回头看（截至 {day.isoformat()}）：{len(found)} 项")
    for name in ("类别", "群名", "单位", "说明"):
        table.add_column(name, overflow="fold")
    for f in found:
        table.add_row(FINDING_CN[f.finding], escape(f.topic), escape(f.unit or "-"), escape(f.reason))
    Console(width=140).print(table)
    return 0


def cmd_report(args: argparse.Namespace) -> int:

    out = Path(args.output)
    if problem := output_problem(out, args.name):
        raise CliError(problem)
    settings = settings_for(args)
    engine = open_engine(settings, readonly=True)
    rules, now = rules_for(settings), SystemClock().now()
    report = _run(lambda: campaign_report(engine, name=args.name, at=args.at, now=now, rules=rules, out=out))
    sys.stdout.write(f"已写出专项行动“{args.name}”的报告：\n  工作簿：{report.workbook}\n")
    for path in report.charts.values():
        sys.stdout.write(f"  图表：{path}\n")
    sys.stdout.write(f"  网页：{report.index}\n")
    return 0
