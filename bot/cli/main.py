"""`qingqun` command line. Every command accepts --db URL."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from loguru import logger
from sqlalchemy.engine import Engine

from bot.core.clock import SystemClock, VirtualClock
from bot.core.config import ConfigError, Settings, load_settings
from bot.core.logs import protect, protect_url, setup_logging
from bot.digests.preview import format_preview, preview
from bot.reports.ledger import burden_json, contact_names, export_ledger, print_audit, print_burden
from bot.services.audit import as_of, audit_json, run_audit
from bot.services.context import AppContext
from bot.services.roster import RosterError, apply_roster, load_roster
from bot.sim.scenario import ScenarioError, load_scenario
from policies.rules import Rules, RulesError, load_rules
from storage.db import DatabaseError, make_engine
from storage.migrate import upgrade


class CliError(Exception):
    """A one-line error for the operator (exit 2)."""


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    overrides: dict[str, Any] = dict(extra)
    if getattr(args, "db", None):
        overrides["database_url"] = args.db
    settings = load_settings(**overrides)
    protect(settings.gateway_token)
    protect_url(settings.database_url)
    # python-wechaty writes its cache (and a scheduler job store) under CACHE_DIR at import time.
    os.environ.setdefault("CACHE_DIR", str(settings.data_dir / ".wechaty"))
    return settings


_ENGINES: list[Engine] = []


def _engine(settings: Settings) -> Engine:
    """The process's one engine, schema upgraded; disposed when the command ends."""
    engine = make_engine(settings.db_url)
    _ENGINES.append(engine)
    upgrade(engine)
    return engine


def _rules(settings: Settings) -> Rules:
    return load_rules(settings.rules_file)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _datetime(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    if dt.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a UTC offset, e.g. {value}+08:00")
    return dt


# ---------------------------------------------------------------- commands


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _engine(settings)
    logger.info("database is at the latest schema")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    # The simulation drives the real Wechaty class: imported only when asked for (start-up time).
    from bot.sim.simulate import run_simulation, write_transcript

    sc = load_scenario(Path(args.scenario))  # validated before anything is written
    settings = _settings(args, **sc.settings)
    engine = _engine(settings)
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
    settings = _settings(args)
    engine = _engine(settings)
    now = as_of(args.at, settings.tz) if args.at else SystemClock().now()
    rows, burdens = run_audit(engine, _rules(settings), now, settings.tz)
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
    settings, _, _, rows, _ = _audit(args)
    export_ledger(rows, Path(args.output), settings.tz)
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
    settings = _settings(args)
    roster = load_roster(Path(args.file))
    engine = _engine(settings)
    apply_roster(engine, roster)
    sys.stdout.write(f"名册已导入：{len(roster.units)} 个单位，{len(roster.people)} 名人员\n")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    # Importing wechaty takes a while and patches it: only the commands that drive it pay.
    from bot.cli.run import run_live

    settings = _settings(args)
    settings.require_gateway()
    engine = _engine(settings)
    return asyncio.run(run_live(settings, engine))


def cmd_demo(args: argparse.Namespace) -> int:
    # The demo runs the simulation, which drives wechaty: imported only when asked for.
    from bot.cli.demo import run_demo

    settings = _settings(args)
    return run_demo(settings, Path(args.out), args.db, _ENGINES)


def cmd_digest_preview(args: argparse.Namespace) -> int:
    settings = _settings(args)
    engine = _engine(settings)
    now = as_of(args.at, settings.tz) if args.at else SystemClock().now()
    services = AppContext(engine=engine, settings=settings, clock=VirtualClock(now))
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
    s.add_argument("--out", default="out", help="folder for the ledger and chart")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("simulate", parents=[common], help="replay a scenario on a virtual clock")
    s.add_argument("scenario")
    s.add_argument("--transcript", metavar="FILE")
    s.add_argument("--until", type=_datetime, metavar="ISO8601")
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("audit", parents=[common], help="evaluate policies on the stored groups")
    s.add_argument("--at", type=_date, metavar="YYYY-MM-DD")
    s.add_argument("--json", action="store_true")
    s.add_argument("--burden", action="store_true", help="groups per person instead of per group")
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser("ledger", parents=[common], help="the supervisors' ledger (台账)")
    lsub = s.add_subparsers(dest="ledger_command", required=True)
    e = lsub.add_parser("export", parents=[common])
    e.add_argument("--output", required=True, help=".xlsx or .csv")
    e.add_argument("--at", type=_date, metavar="YYYY-MM-DD")
    e.set_defaults(func=cmd_ledger_export)

    s = sub.add_parser("digest", parents=[common], help="weekly digests")
    gsub = s.add_subparsers(dest="digest_command", required=True)
    g = gsub.add_parser("preview", parents=[common], help="print what would be sent; sends nothing")
    g.add_argument("--at", type=_date, metavar="DATE", help="as of this date (default today)")
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
        while _ENGINES:
            _ENGINES.pop().dispose()


if __name__ == "__main__":
    raise SystemExit(main())
