"""`qingqun` command line. Every command accepts --db URL."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger
from sqlalchemy.engine import Engine

from bot.cli import campaign, privacy, status
from bot.cli.common import ENGINES, CliError, date_arg, datetime_arg, open_engine, rules_for, settings_for
from bot.core.clock import SystemClock, VirtualClock
from bot.core.config import ConfigError, Settings
from bot.core.logs import setup_logging
from bot.digests.preview import format_preview, preview
from bot.reports.ledger import (
    burden_json,
    contact_names,
    export_ledger,
    ledger_output_problem,
    print_audit,
    print_burden,
)
from bot.services.audit import as_of, audit_json, run_audit
from bot.services.context import AppContext
from bot.services.roster import RosterError, apply_roster, load_roster
from bot.sim.scenario import ScenarioError, load_scenario
from policies.rules import RulesError, load_rules
from storage.db import DatabaseError

# ---------------------------------------------------------------- commands


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    open_engine(settings)
    logger.info("database is at the latest schema")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    # The simulation drives the real Wechaty class: imported only when asked for (start-up time).
    from bot.sim.simulate import run_simulation, write_transcript

    sc = load_scenario(Path(args.scenario))  # validated before anything is written
    settings = settings_for(args, **sc.settings)
    engine = open_engine(settings)
    result = run_simulation(sc, settings, engine, until=args.until)
    if args.transcript:
        write_transcript(result.sent, Path(args.transcript), sc, settings)
    sys.stdout.write(
        f"模拟完成：{result.events} 个事件，{result.messages} 条群消息，"
        f"机器人发出 {len(result.sent)} 条消息\n"
    )
    return 0


def _audit(args: argparse.Namespace) -> tuple[Settings, Engine, datetime, list[Any], list[Any]]:
    """Settings, engine, the audit moment (end of --at's day, or now), rows and burdens."""
    settings = settings_for(args)
    rules = rules_for(settings)  # a bad rule file is reported before the database is touched
    engine = open_engine(settings, readonly=True)
    now = as_of(args.at, settings.tz) if args.at else SystemClock().now()
    rows, burdens = run_audit(engine, rules, now, settings.tz)
    return settings, engine, now, rows, burdens


def cmd_audit(args: argparse.Namespace) -> int:
    settings, engine, now, rows, burdens = _audit(args)
    if args.burden:
        if args.json:
            sys.stdout.write(burden_json(burdens) + "\n")
        else:
            print_burden(burdens, engine)
        return 0
    if args.json:
        sys.stdout.write(audit_json(rows, settings.tz) + "\n")
    else:
        print_audit(rows, settings.tz, now, contact_names(engine))
    return 0


def cmd_ledger_export(args: argparse.Namespace) -> int:
    if problem := ledger_output_problem(Path(args.output)):
        raise CliError(problem)
    settings, engine, now, rows, _ = _audit(args)
    day = now.astimezone(settings.tz).date()
    export_ledger(rows, Path(args.output), settings.tz, names=contact_names(engine), at=day)
    sys.stdout.write(f"台账已导出：{args.output}（{len(rows)} 个群）\n")
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    try:
        load_rules(Path(args.file))
    except RulesError as exc:
        raise CliError(str(exc)) from exc
    sys.stdout.write(f"规则文件有效：{args.file}\n")
    return 0


def cmd_roster_import(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    roster = load_roster(Path(args.file))
    engine = open_engine(settings)
    apply_roster(engine, roster)
    sys.stdout.write(f"名册已导入：{len(roster.units)} 个单位，{len(roster.people)} 名人员\n")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    # Importing wechaty takes a while and patches it: only the commands that drive it pay.
    from bot.cli.run import run_live

    settings = settings_for(args)
    settings.require_gateway()
    engine = open_engine(settings)
    return asyncio.run(run_live(settings, engine))


def cmd_demo(args: argparse.Namespace) -> int:
    # The demo runs the simulation, which drives wechaty: imported only when asked for.
    from bot.cli.demo import run_demo

    settings = settings_for(args)
    return run_demo(settings, Path(args.out), args.db, ENGINES)


def cmd_digest_preview(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    rules = rules_for(settings)  # checked before the database is touched
    engine = open_engine(settings, readonly=True)
    now = as_of(args.at, settings.tz) if args.at else SystemClock().now()
    services = AppContext(rules=rules, engine=engine, settings=settings, clock=VirtualClock(now))
    msgs = preview(services, now, owner=args.owner, supervisor=args.supervisor)
    sys.stdout.write(format_preview(engine, msgs) if msgs else "没有要发送的周报。\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qingqun", description="清群：基层工作群清理助手")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help="database URL (overrides QINGQUN_DATABASE_URL)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("run", parents=[common], help="run the live bot through a puppet-service gateway")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("demo", parents=[common], help="simulate the built-in township scenario end to end")
    s.add_argument("--out", default="out", help="folder for the ledger and the campaign report")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("simulate", parents=[common], help="replay a scenario on a virtual clock")
    s.add_argument("scenario")
    s.add_argument("--transcript", metavar="FILE")
    s.add_argument("--until", type=datetime_arg, metavar="ISO8601")
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("audit", parents=[common], help="evaluate policies on the stored groups")
    s.add_argument("--at", type=date_arg, metavar="YYYY-MM-DD")
    s.add_argument("--json", action="store_true")
    s.add_argument("--burden", action="store_true", help="groups per person instead of per group")
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser("ledger", parents=[common], help="the supervisors' ledger (台账)")
    lsub = s.add_subparsers(dest="ledger_command", required=True)
    e = lsub.add_parser("export", parents=[common])
    e.add_argument("--output", required=True, help=".xlsx or .csv")
    e.add_argument("--at", type=date_arg, metavar="YYYY-MM-DD")
    e.set_defaults(func=cmd_ledger_export)

    s = sub.add_parser("digest", parents=[common], help="weekly digests")
    gsub = s.add_subparsers(dest="digest_command", required=True)
    g = gsub.add_parser("preview", parents=[common], help="print what would be sent; sends nothing")
    g.add_argument("--at", type=date_arg, metavar="DATE", help="as of this date (default today)")
    who = g.add_mutually_exclusive_group()
    who.add_argument("--owner", metavar="ID", help="only this owner's digest")
    who.add_argument("--supervisor", metavar="ID", help="only this supervisor's digest")
    g.set_defaults(func=cmd_digest_preview)

    s = sub.add_parser("db", parents=[common], help="database schema")
    dsub = s.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", parents=[common]).set_defaults(func=cmd_db_upgrade)

    s = sub.add_parser("rules", parents=[common], help="policy rule files")
    rsub = s.add_subparsers(dest="rules_command", required=True)
    c = rsub.add_parser("check", parents=[common])
    c.add_argument("file")
    c.set_defaults(func=cmd_rules_check)

    s = sub.add_parser("roster", parents=[common], help="units, people and roles")
    osub = s.add_subparsers(dest="roster_command", required=True)
    c = osub.add_parser("import", parents=[common])
    c.add_argument("file", help="YAML with units: and contacts: as in scenario files")
    c.set_defaults(func=cmd_roster_import)
    campaign.add_parser(sub)
    privacy.add_parser(sub, common)
    status.add_parser(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging(os.environ.get("QINGQUN_LOG_LEVEL", "INFO"))
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (CliError, ConfigError, DatabaseError, RosterError, RulesError, ScenarioError) as exc:
        sys.stderr.write(f"qingqun: error: {exc}\n")
        return 2
    finally:
        while ENGINES:
            ENGINES.pop().dispose()


if __name__ == "__main__":
    raise SystemExit(main())
