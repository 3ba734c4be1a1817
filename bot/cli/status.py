"""`qingqun status [--json] [--check]`: read from the database, never creates it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from bot.app.status import StatusReport, status_report
from bot.cli.common import open_engine, settings_for
from bot.core import wording
from bot.core.clock import SystemClock


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("status", parents=[common], help="instances, account login state, outbox, next digest")
    s.add_argument("--json", action="store_true")
    s.add_argument("--check", action="store_true", help="exit 1 unless an instance is up and logged in")
    s.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    engine = open_engine(settings, readonly=True)
    report = status_report(engine, settings, SystemClock().now())
    if args.json:
        sys.stdout.write(json.dumps(report.as_json(settings), ensure_ascii=False) + "\n")
    else:
        data = report.as_json(settings)
        table = Table(title="qingqun 实例")
        for col in ("实例", "账号", "登录", "最近网关事件", "主实例", "心跳"):
            table.add_column(col)
        for i in data["instances"]:
            table.add_row(
                i["instance"], i["account"] or "-", "是" if i["logged_in"] else "否",
                i["last_event_at"] or "-", "是" if i["leader"] else "否", i["updated_at"] or "-",
            )  # fmt: skip
        console = Console(file=sys.stdout, width=120)
        console.print(table)
        console.print(
            f"在管群 {data['rooms_active']} 个；待发送 {data['outbox_pending']} 条；"
            f"24 小时内发送失败 {data['outbox_failed_24h']} 条；下次周报 {data['next_digest_at'] or '-'}"
        )
        for line in _account_lines(report):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        console.print("状态：正常" if report.healthy else "状态：异常 —— " + "；".join(report.problems))
    if args.check:
        return 0 if report.healthy else 1
    return 0


def _account_lines(report: StatusReport) -> list[str]:
    """One line per bot account, then a warning for each nearly full one."""
    if not report.accounts:
        return [wording.NO_ACCOUNTS]
    lines, warnings = [], []
    for a in report.accounts:
        load = a.load
        line = wording.account_line(
            account=load.account, name=load.name, rooms=load.rooms, room_limit=load.room_limit,
            friends=a.friends, sent=a.sent_last_hour, logged_in=a.logged_in,
        )  # fmt: skip
        lines.append(line)
        if load.near_limit:
            warnings.append(
                wording.account_near_limit(
                    label=load.label, rooms=load.rooms, room_limit=load.room_limit, percent=load.percent
                )
            )
    return lines + warnings
