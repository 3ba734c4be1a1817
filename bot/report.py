"""Human-readable output: the audit table, burden, the ledger file and a small chart."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import Engine

from bot.audit import AuditRow, row_json
from policies.model import Burden
from storage import repo
from storage.db import session_scope

KIND_CN = {"standing": "常设", "temporary": "临时", "phase": "阶段性", None: "未登记"}
STATUS_CN = {"active": "在用", "dissolved": "已解散", "removed": "已移出机器人"}
PENDING_CN = {"standing": "常设登记", "extend": "延期", "retain": "保留"}
ACTION_CN = {"dissolve": "解散", "merge": "合并", "register": "登记", "review": "核查", "notice": "提醒"}


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
            pending = "、".join(PENDING_CN.get(p, p) for p in row.pending)
            advice += ("\n" if advice else "") + "待审批：" + pending
        table.add_row(
            escape(j["topic"]),
            escape(names.get(j["owner_id"] or "", j["owner_id"] or "-")),
            STATUS_CN.get(j["status"], j["status"]),
            KIND_CN.get(j["kind"], "-"),
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
        return {cid: c.name for cid, c in repo.contacts(s).items() if c.name}


def print_burden(burdens: list[Burden], engine: Engine, console: Console | None = None) -> None:
    console = console or Console()
    with session_scope(engine) as s:
        people = repo.contacts(s)
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


def _ledger_rows(rows: list[AuditRow], tz: ZoneInfo) -> list[list[object]]:
    out: list[list[object]] = []
    for row in rows:
        j = row_json(row, tz)
        out.append(
            [
                j["room_id"],
                j["topic"],
                j["owner_id"] or "",
                j["unit"] or "",
                STATUS_CN.get(j["status"], j["status"]),
                KIND_CN.get(j["kind"], ""),
                j["end_date"] or "",
                j["member_count"],
                j["messages_30d"],
                j["last_activity"] or "",
                "、".join(dict.fromkeys(ACTION_CN.get(lb["action"], lb["action"]) for lb in j["labels"])),
                "；".join(lb["reason"] for lb in j["labels"]),
                "、".join(PENDING_CN.get(p, p) for p in row.pending),
            ]
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


def export_ledger(rows: list[AuditRow], path: Path, tz: ZoneInfo) -> None:
    """Write the ledger as .xlsx or .csv, chosen by the file suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _ledger_rows(rows, tz)
    if path.suffix.lower() == ".csv":
        # utf-8-sig so Excel on Windows opens the Chinese text correctly.
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(LEDGER_COLUMNS)
            w.writerows(data)
        return
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"ledger output must end in .xlsx or .csv: {path}")
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "工作群台账"
    ws.append(LEDGER_COLUMNS)
    for r in data:
        ws.append(r)
    ws.freeze_panes = "A2"
    for letter, width in zip(
        "ABCDEFGHIJKLM", (22, 30, 12, 12, 10, 8, 12, 6, 10, 26, 14, 60, 12), strict=True
    ):
        ws.column_dimensions[letter].width = width
    wb.save(path)


def write_chart(rows: list[AuditRow], path: Path) -> None:
    """An SVG bar chart of groups per suggested action (no plotting dependency needed)."""
    counts: Counter[str] = Counter()
    for r in rows:
        if r.room.status != "active":
            counts["已解散/移出"] += 1
            continue
        actions = {lb.action for lb in r.verdict.labels}
        key = next(
            (ACTION_CN[a] for a in ("dissolve", "merge", "review", "register", "notice") if a in actions),
            "正常",
        )
        counts["建议" + key if key != "正常" else key] += 1
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    top = max((v for _, v in items), default=1)
    bar_w, gap, h = 70, 30, 260
    width = len(items) * (bar_w + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 80}" '
        'font-family="Noto Sans CJK SC, sans-serif" font-size="13">',
        f'<text x="{gap}" y="22" font-size="16">工作群清理情况（共 {len(rows)} 个）</text>',
    ]
    for i, (label, v) in enumerate(items):
        x = gap + i * (bar_w + gap)
        bh = max(2, int((h - 40) * v / top))
        y = h - bh + 20
        parts.append(f'<rect x="{x}" y="{y}" width="{bar_w}" height="{bh}" fill="#c0392b"/>')
        parts.append(f'<text x="{x + bar_w / 2}" y="{y - 6}" text-anchor="middle">{v}</text>')
        cx = x + bar_w / 2
        parts.append(f'<text x="{cx}" y="{h + 42}" text-anchor="middle">{xml_escape(label)}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts), encoding="utf-8")
