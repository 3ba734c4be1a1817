"""`qingqun privacy export|forget|wipe`: answer a person's request about their data.

Registered into the main parser by `add_parser`. Each handler returns the exit code and writes
its own one-line Chinese errors for the cases it knows (unknown contact, bad output path); a
database that is missing, corrupt or unreachable raises storage.db.DatabaseError, which the
main entry point reports the same way. Nothing here creates a database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import settings_for
from storage.db import open_existing, scrubbing_session, session_scope, wipe_free_space
from storage.privacy import UnknownContactError, export_contact, forget_contact

LABELS = {
    "contact": "联系人",
    "rooms": "群信息",
    "memberships": "成员记录",
    "sender_days": "每日发言计数",
    "commands": "指令日志",
    "events": "事件日志",
    "approvals": "审批记录",
    "topic_changes": "改名记录",
    "messages_dropped": "待发消息（已取消）",
    "messages_cleared": "已发消息（内容已清除）",
    "names_removed": "他人消息中的姓名",
}


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"qingqun: error: {message}\n")
    return code


def _unknown(contact_id: str) -> str:
    return f"未找到联系人 {contact_id}：数据库中没有与该 ID 有关的记录（未做任何改动）"


def export_output_problem(path: Path) -> str | None:
    """Why the export cannot be written to `path` (one Chinese line), or None."""
    if path.is_dir():
        return f"导出路径是一个文件夹：{path}"
    folder = path.absolute().parent
    if not folder.is_dir():
        return f"导出文件所在的文件夹不存在：{folder}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"没有权限写入：{folder}"
    return None


def _write_private(path: Path, text: str) -> None:
    """Write a file only the owner can read: it holds one person's data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


def cmd_privacy_export(args: argparse.Namespace) -> int:
    """Everything stored about one contact, as JSON on stdout or in --output."""
    settings = settings_for(args)
    output = Path(args.output) if args.output else None
    if output is not None and (problem := export_output_problem(output)):
        return _fail(problem)
    engine = open_existing(settings.db_url)
    try:
        with session_scope(engine) as s:
            data = export_contact(s, contact_id=args.contact)
    except UnknownContactError:
        return _fail(_unknown(args.contact))
    finally:
        engine.dispose()
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return 0
    _write_private(output, text)
    sys.stdout.write(f"已导出 {args.contact} 的数据：{output}\n")
    return 0


def _summary(counts: dict[str, Any]) -> str:
    return "，".join(f"{LABELS.get(k, k)} {n} 条" for k, n in counts.items())


def cmd_privacy_forget(args: argparse.Namespace) -> int:
    """Remove or pseudonymise one contact's rows, then wipe SQLite's free space and WAL."""
    settings = settings_for(args)
    engine = open_existing(settings.db_url, readonly=False)
    try:
        with scrubbing_session(engine) as s:
            result = forget_contact(s, contact_id=args.contact)
        clean = wipe_free_space(engine)
    except UnknownContactError:
        return _fail(_unknown(args.contact))
    finally:
        engine.dispose()
    # The pseudonym is deliberately not printed: printing it would keep the link to the id.
    sys.stdout.write(
        f"已删除 {args.contact} 的个人数据：{_summary(result.counts)}。"
        "群的统计数字不变，相关日志以化名保留。\n"
    )
    if not clean:
        return _fail(
            "记录已删除，但另一个进程（运行中的机器人）正在读数据库，WAL 文件未能清空："
            "停止 qingqun run 后运行 qingqun privacy wipe",
            code=1,
        )
    return 0


def cmd_privacy_wipe(args: argparse.Namespace) -> int:
    """Rewrite the SQLite file without free pages and empty its WAL (after an interrupted forget)."""
    settings = settings_for(args)
    engine = open_existing(settings.db_url, readonly=False)
    try:
        clean = wipe_free_space(engine)
    finally:
        engine.dispose()
    if not clean:
        return _fail("数据库正被其他进程使用，WAL 文件未能清空：请先停止 qingqun run", code=1)
    sys.stdout.write("数据库文件已清理：已删除的记录不再留存在文件中。\n")
    return 0


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add `privacy export|forget|wipe` to the main parser's subcommands (`common` holds --db)."""
    s = subparsers.add_parser("privacy", parents=[common], help="a person's stored data: export or forget")
    psub = s.add_subparsers(dest="privacy_command", required=True)
    e = psub.add_parser("export", parents=[common], help="everything stored about one person, as JSON")
    e.add_argument("--contact", required=True, metavar="ID", help="the person's WeChat contact id")
    e.add_argument("--output", metavar="FILE", help="write here (mode 0600) instead of stdout")
    e.set_defaults(func=cmd_privacy_export)
    f = psub.add_parser("forget", parents=[common], help="remove or pseudonymise one person's data")
    f.add_argument("--contact", required=True, metavar="ID", help="the person's WeChat contact id")
    f.set_defaults(func=cmd_privacy_forget)
    w = psub.add_parser("wipe", parents=[common], help="SQLite: clear deleted rows from the database files")
    w.set_defaults(func=cmd_privacy_wipe)
