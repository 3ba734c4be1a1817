"""Human-readable output: the audit table, burden and the ledger file."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import Engine

from bot.core.wording import ACTION_CN, LABEL_CN, REQUEST_CN, ROOM_STATUS_CN, kind_short, label_cn
from bot.reports.sheets import Cell, Column, Kind, Sheet, write_workbook
from bot.services.audit import AuditRow, row_json
from policies.model import Burden, should_go
from storage import directory as directory_db
from storage.db import session_scope


def print_audit(
    rows: list[AuditRow],
    tz: ZoneInfo,
    now: datetime,
    names: dict[str, str] | None = None,
    console: Console | None = None,
) -> None:
    """The Chinese audit table; `names` maps contact ids to display names for the owner column."""
    console = console or Console(width=160)
    names = names or {}
    table = Table(title=f"工作群审计（截至 {now.astimezone(tz):%Y-%m-%d}）", show_lines=True)
    for col in ("群名", "群主", "状态", "类型", "截止", "人数", "近30天消息", "最后发言", "建议"):
        table.add_column(col, overflow="fold")
    for row in rows:
        j = row_json(row, tz)
        advice = "\n".join(
            f"[{ACTION_CN.get(lb['action'], lb['action'])}] {lb['reason']}" for lb in j["labels"]
        )
        if row.pending:
            pending = "、".join(REQUEST_CN.get(p, p) for p in row.pending)
            advice += ("\n" if advice else "") + "待审批：" + pending
        table.add_row(
            escape(j["topic"]),
            escape(names.get(j["owner_id"] or "", j["owner_id"] or "-")),
            ROOM_STATUS_CN.get(j["status"], j["status"]),
            kind_short(j["kind"]),
            j["end_date"] or "-",
            str(j["member_count"]),
            str(j["messages_30d"]),
            (j["last_activity"] or "-")[:10],
            escape(advice) or "无",
        )
    console.print(table)
    counts = Counter(lb.code for r in rows for lb in r.verdict.labels)
    active = sum(1 for r in rows if r.room.status == "active")
    console.print(
        f"共 {len(rows)} 个群，在用 {active} 个；标签："
        + ("，".join(f"{k} {v}" for k, v in sorted(counts.items())) or "无")
    )


def burden_json(burdens: list[Burden]) -> str:
    return json.dumps(
        [
            {"contact_id": b.contact_id, "active_groups": b.active_groups, "flagged_groups": b.flagged_groups}
            for b in burdens
        ],
        ensure_ascii=False,
        indent=2,
    )


def contact_names(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as s:
        return {cid: c.name for cid, c in directory_db.contacts(s).items() if c.name}


def print_burden(burdens: list[Burden], engine: Engine, console: Console | None = None) -> None:
    console = console or Console()
    with session_scope(engine) as s:
        people = directory_db.contacts(s)
    table = Table(title="人均工作群负担")
    for col in ("人员", "单位", "在用群数", "其中建议解散/合并"):
        table.add_column(col)
    for b in burdens:
        c = people.get(b.contact_id)
        table.add_row(
            c.name if c and c.name else b.contact_id,
            (c.unit if c else None) or "-",
            str(b.active_groups),
            str(b.flagged_groups),
        )
    console.print(table)


LEDGER_COLUMNS = [
    "群ID",
    "群名",
    "群主",
    "单位",
    "状态",
    "类型",
    "截止日期",
    "人数",
    "近30天消息",
    "最后发言",
    "建议动作",
    "原因",
    "待审批",
]
LEDGER_KINDS: tuple[Kind, ...] = (
    "text", "text", "text", "text", "text", "text", "date", "int", "int", "datetime", "text", "text", "text",
)
UNKNOWN_PERSON = "未知（不在名册）"
NO_UNIT = "（未指定单位）"
def _person(contact_id: str | None, names: Mapping[str, str]) -> str:
    """People appear by name; an id the roster does not name is not shown instead."""
    if not contact_id:
        return ""
    return names.get(contact_id) or UNKNOWN_PERSON


def _ledger_rows(rows: list[AuditRow], names: Mapping[str, str]) -> list[tuple[Cell, ...]]:
    out: list[tuple[Cell, ...]] = []
    for row in rows:
        r = row.room
        labels = row.verdict.labels
        out.append(
            (
                r.id,
                r.topic,
                _person(r.owner_id, names),
                r.unit or "",
                ROOM_STATUS_CN.get(r.status, r.status),
                kind_short(r.kind),
                r.end_date,
                r.member_count,
                row.messages_30d,
                row.last_activity,
                "、".join(dict.fromkeys(ACTION_CN.get(lb.action, lb.action) for lb in labels)),
                "；".join(lb.reason for lb in labels),
                "、".join(REQUEST_CN.get(p, p) for p in row.pending),
            )
        )
    return out


def ledger_output_problem(path: Path) -> str | None:
    """Why the ledger cannot be written to `path` (one Chinese line), or None; checked before any read."""
    if path.suffix.lower() not in (".xlsx", ".csv"):
        return f"台账文件名须以 .xlsx 或 .csv 结尾：{path}"
    if path.is_dir():
        return f"台账输出路径是一个文件夹：{path}"
    existing = next((p for p in path.absolute().parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        return f"无法在 {existing} 下写台账：它不是文件夹"
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        return f"没有权限写入：{existing}"
    return None


def unit_summary(rows: list[AuditRow]) -> Sheet:
    """按单位汇总: per unit, groups by status; among groups in use, by kind and by label, the ones
    advised to be dissolved or merged, and those awaiting approval. A 合计 row closes it."""
    codes = [c for c in LABEL_CN if any(lb.code == c for r in rows for lb in r.verdict.labels)]
    codes += sorted({lb.code for r in rows for lb in r.verdict.labels} - set(codes))
    kinds = ("standing", "temporary", "phase", None)
    header = [
        "单位", "群数", "在用", "已移出机器人", "已解散",
        *(kind_short(k) for k in kinds),
        *(label_cn(c) for c in codes),
        "建议解散或合并", "待审批",
    ]  # fmt: skip

    def counts(group: list[AuditRow]) -> list[int]:
        active = [r for r in group if r.room.status == "active"]
        return [
            len(group),
            len(active),
            sum(r.room.status == "removed" for r in group),
            sum(r.room.status == "dissolved" for r in group),
            *(sum(r.room.kind == k for r in active) for k in kinds),
            *(sum(any(lb.code == c for lb in r.verdict.labels) for r in active) for c in codes),
            sum(any(map(should_go, r.verdict.labels)) for r in active),
            sum(bool(r.pending) for r in active),
        ]

    by_unit: dict[str, list[AuditRow]] = {}
    for r in rows:
        by_unit.setdefault(r.room.unit or NO_UNIT, []).append(r)
    units = sorted(u for u in by_unit if u != NO_UNIT) + ([NO_UNIT] if NO_UNIT in by_unit else [])
    table: list[tuple[Cell, ...]] = [(u, *counts(by_unit[u])) for u in units]
    table.append(("合计", *counts(rows)))
    return Sheet(
        name="按单位汇总",
        title="",
        columns=(Column("单位"), *(Column(h, "int") for h in header[1:])),
        rows=tuple(table),
        total_row=True,
        frozen_columns=1,
    )


def export_ledger(
    rows: list[AuditRow],
    path: Path,
    tz: ZoneInfo,
    names: Mapping[str, str] | None = None,
    at: date | None = None,
) -> None:
    """Write the ledger as .xlsx (the ledger sheet and 按单位汇总) or .csv, by the file suffix.

    `names` maps contact ids to names (owners appear by name); `at` is the audit's day, for the
    titles.
    """
    names = names or {}
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(f"ledger output must end in .xlsx or .csv: {path}")
    data = _ledger_rows(rows, names)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        # utf-8-sig so Excel on Windows opens the Chinese text correctly.
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(LEDGER_COLUMNS)
            for values in data:
                w.writerow(_csv_value(v, tz) for v in values)
        return
    when = f"截至 {at:%Y-%m-%d}" if at else "当前"
    ledger = Sheet(
        name="工作群台账",
        title=f"工作群台账（{when}，共 {len(rows)} 个群）",
        columns=tuple(Column(h, k) for h, k in zip(LEDGER_COLUMNS, LEDGER_KINDS, strict=True)),
        rows=tuple(data),
        frozen_columns=2,
    )
    summary = unit_summary(rows)
    summary = replace(summary, title=f"工作群台账按单位汇总（{when}；类型、标签、建议、待审批按在用群统计）")
    write_workbook(path, [ledger, summary], tz)


def _csv_value(value: Cell, tz: ZoneInfo) -> Cell:
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value
