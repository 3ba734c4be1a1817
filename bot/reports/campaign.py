"""The campaign report people forward upward: one workbook (汇总表, 清理统计表, 备案表, 回头看),
four charts beside it and a self-contained index.html, all from one evaluation of the campaign.

The 汇总表 is `campaign status` row for row; the weekly trend asks `campaign status` again for
the last day of each week, which reconstructs those days from the stored history. People appear
by name: an id the roster does not name is shown as unknown, never as the WeChat id.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.core.wording import FINDING_CN, OUTCOME_CN, kind_short, label_cn
from bot.reports import charts
from bot.reports.campaign_charts import burden_chart, label_chart, reduction_chart, trend_chart
from bot.reports.html import Page, chart_images, write_page
from bot.reports.ledger import contact_names
from bot.reports.sheets import Cell, Column, Sheet, write_workbook
from bot.services.audit import AuditRow
from bot.services.campaign_groups import CampaignDetail, campaign_detail
from bot.services.campaigns import CampaignStatus, campaign_status
from policies.campaign import UnitFigures
from policies.rules import Rules

UNKNOWN_PERSON = "未知（不在名册）"
TOTAL = "合计"
CHART_FILES = {
    "trend": "在用群趋势.png",
    "reduction": "各单位清理率.png",
    "burden": "人均在用群.png",
    "labels": "标签分布.png",
}
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')

SUMMARY_COLUMNS = (
    Column("单位"),
    Column("清理前总数", "int"),
    Column("解散数", "int"),
    Column("整合数", "int"),
    Column("机器人被移出", "int"),
    Column("新建数", "int"),
    Column("现有数", "int"),
    Column("清理率", "pct"),
    Column("目标", "pct"),
    Column("完成情况"),
)
GROUP_COLUMNS = (
    Column("单位"),
    Column("群名称"),
    Column("群主"),
    Column("人数", "int"),
    Column("建群/入群时间"),  # the WeChat creation date when known, else when the bot joined
    Column("类型"),
    Column("用途"),
    Column("截止日期", "date"),
    Column("处理方式"),
    Column("整合去向"),
    Column("处理时间", "datetime"),
    Column("当前标签及原因", width=60),
    Column("清理前/新建"),
)
FILED_COLUMNS = (
    Column("单位"),
    Column("群名称"),
    Column("群主"),
    Column("管理员"),
    Column("成员人数", "int"),
    Column("用途"),
    Column("类型"),
    Column("截止日期", "date"),
    Column("审批人"),
    Column("审批日期", "date"),
)
FINDING_COLUMNS = (
    Column("类别"),
    Column("群名称"),
    Column("单位"),
    Column("群主"),
    Column("相关群"),
    Column("说明", width=70),
)


def progress_text(reduction: float | None, target: float | None) -> str:
    """A row's reduction against the target, e.g. "62.5%（25.00/40）"; "-" without either."""
    if reduction is None:
        return "-"
    if target is None:
        return f"{reduction:.2f}%"
    if target == 0 or reduction >= target:
        return f"已达标（{reduction:.2f}/{target:g}）"
    share = 100 * reduction / target if reduction > 0 else 0.0
    return f"{share:.0f}%（{reduction:.2f}/{target:g}）"


def file_name(campaign: str) -> str:
    """The workbook's file name: the campaign's name, with what no file system accepts replaced."""
    return _UNSAFE.sub("_", campaign).strip(" .") + ".xlsx"


def output_problem(out: Path, campaign: str) -> str | None:
    """Why the report cannot be written into folder `out` (one Chinese line), or None.

    Checked before the database is opened, so a typo in the path costs nothing.
    """
    if out.exists() and not out.is_dir():
        return f"报告输出路径不是文件夹：{out}"
    existing = out if out.exists() else next((p for p in out.absolute().parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        return f"无法在 {existing} 下建报告文件夹：它不是文件夹"
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        return f"没有权限写入：{existing}"
    if not file_name(campaign).removesuffix(".xlsx"):
        return f"专项行动名称“{campaign}”无法用作文件名"
    workbook = out / file_name(campaign)
    if workbook.is_dir():
        return f"报告文件路径是一个文件夹：{workbook}"
    return None


def week_ends(baseline: date, at: date) -> list[date]:
    """The trend's days: the baseline day, each Sunday after it before `at`, and `at` itself."""
    days = [baseline]
    sunday = baseline + timedelta(days=(6 - baseline.weekday()) or 7)
    while sunday < at:
        days.append(sunday)
        sunday += timedelta(days=7)
    if at > baseline:
        days.append(at)
    return days


@dataclass(frozen=True, slots=True)
class CampaignReport:
    """What `write_report` wrote."""

    workbook: Path
    charts: dict[str, Path]
    index: Path


# ---------------------------------------------------------------- the sheets


class _People:
    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def __call__(self, contact_id: str | None) -> str:
        if not contact_id:
            return ""
        return self.names.get(contact_id) or UNKNOWN_PERSON

    def many(self, ids: Iterable[str]) -> str:
        return "、".join(self(i) for i in ids)


def _heading(sheet: str, st: CampaignStatus) -> str:
    c = st.campaign
    return f"{sheet}（{c.name}｜范围 {c.scope}｜基线日 {c.baseline_date:%Y-%m-%d}｜截至 {st.at:%Y-%m-%d}）"


def summary_sheet(st: CampaignStatus) -> Sheet:
    """汇总表: the rows of `campaign status`, figure by figure, and the 合计 row."""
    target = st.campaign.target_pct

    def row(u: UnitFigures, label: str) -> tuple[Cell, ...]:
        pct = u.reduction_pct
        return (label, u.baseline, u.dissolved, u.merged, u.removed, u.new, u.active, pct, target,
                progress_text(pct, target))  # fmt: skip

    rows = [row(u, u.unit) for u in st.units] + [row(st.total, TOTAL)]
    return Sheet(
        "汇总表", _heading("汇总表", st), SUMMARY_COLUMNS, tuple(rows), total_row=True, frozen_columns=1
    )


def _labels_text(row: AuditRow | None) -> str:
    if row is None or row.room.status == "dissolved":
        return ""
    return "\n".join(f"{label_cn(lb.code)}：{lb.reason}" for lb in row.verdict.labels)


def _since(row: AuditRow | None) -> Cell:
    if row is None:
        return None
    if row.room.created_on is not None:
        return row.room.created_on
    return row.room.enrolled_at


def groups_sheet(detail: CampaignDetail, people: _People) -> Sheet:
    """清理统计表: one row per baseline or new group and what became of it."""
    topics = {r.room.id: r.room.topic for r in detail.existing}
    topics.update({g.room_id: g.topic for g in detail.groups})
    rows: list[tuple[Cell, ...]] = []
    for g in detail.groups:
        room = g.row.room if g.row is not None else None
        into = ""
        if g.merged_into is not None:
            t = g.merged_into
            where = topics.get(t.room_id, "（已不在记录中）")
            into = f"{where}（成员重合 {t.percent}%，{t.shared}/{t.union} 人）"
        rows.append(
            (
                g.unit,
                g.topic,
                people(g.owner_id),
                g.members,
                _since(g.row),
                kind_short(room.kind if room else None),
                (room.purpose if room else None) or "",
                room.end_date if room else None,
                OUTCOME_CN[g.outcome],
                into,
                g.outcome_at,
                _labels_text(g.row),
                "清理前" if g.in_baseline else "新建",
            )
        )
    base = sum(g.in_baseline for g in detail.groups)
    title = _heading("清理统计表", detail.status) + f"：清理前 {base} 个，新建 {len(detail.groups) - base} 个"
    return Sheet("清理统计表", title, GROUP_COLUMNS, tuple(rows), frozen_columns=2)


def _admins(room: AuditRow) -> list[str]:
    try:
        ids = json.loads(room.room.admin_ids or "[]")
    except ValueError:
        return []
    return [str(i) for i in ids if i and i != room.room.owner_id] if isinstance(ids, list) else []


def filed_sheet(detail: CampaignDetail, people: _People, tz: ZoneInfo) -> Sheet:
    """备案表: every existing group of the scope registered 常设 or approved to be kept (保留)."""
    rows: list[tuple[Cell, ...]] = []
    for f in detail.filed:
        r = f.row.room
        if f.basis == "retain":
            kind = f"{kind_short(r.kind)}（批准保留）"
        else:
            kind = kind_short(r.kind) if f.approved else f"{kind_short(r.kind)}（待审批）"
        rows.append(
            (
                r.unit or "",
                r.topic,
                people(r.owner_id),
                people.many(_admins(f.row)),
                r.member_count,
                r.purpose or "",
                kind,
                r.end_date,
                people(f.approved_by),
                f.approved_at.astimezone(tz).date() if f.approved_at else None,  # the local day
            )
        )
    waiting = sum(not f.approved for f in detail.filed)
    title = (
        _heading("备案表", detail.status)
        + f"：{len(rows)} 个"
        + (f"（其中待审批 {waiting} 个）" if waiting else "")
    )
    return Sheet("备案表", title, FILED_COLUMNS, tuple(rows), frozen_columns=2)


def findings_sheet(detail: CampaignDetail, people: _People) -> Sheet:
    """回头看: the re-check findings, as `campaign recheck` gives them."""
    topics = {g.room_id: g.topic for g in detail.groups}
    topics.update({r.room.id: r.room.topic for r in detail.existing})
    rows = tuple(
        (
            FINDING_CN.get(f.finding, f.finding),
            f.topic,
            f.unit or "",
            people(f.owner_id),
            topics.get(f.related_room_id, "") if f.related_room_id else "",
            f.reason,
        )
        for f in detail.findings
    )
    counts = Counter(FINDING_CN.get(f.finding, f.finding) for f in detail.findings)
    found = "、".join(f"{k} {v} 项" for k, v in counts.items()) if rows else "未发现问题"
    title = _heading("回头看", detail.status) + f"：{found}"
    return Sheet("回头看", title, FINDING_COLUMNS, rows, frozen_columns=2)


# ---------------------------------------------------------------- the report


NOTES = (
    "清理前总数：基线日终了时范围内在用的工作群；基线在启动专项行动时冻结。",
    "现有数：截至当日未解散的群，机器人被移出的群仍计入（规避机器人不会改善清理率）。",
    "清理率 =（清理前总数 − 现有数）÷ 清理前总数；新建的群计入现有数。",
    "整合数：解散前成员与一个仍在用的群重合、按重复群规则算作并入该群的基线群。",
)


def write_report(
    detail: CampaignDetail,
    weekly: list[CampaignStatus],
    out: Path,
    tz: ZoneInfo,
    names: Mapping[str, str],
) -> CampaignReport:
    """Write DIR/<campaign>.xlsx, the four charts and DIR/index.html; what was written.

    `weekly` is `campaign status` at each of `week_ends` (the trend); `names` maps contact ids
    to names.
    """
    people = _People(names)
    st = detail.status
    summary = summary_sheet(st)
    out.mkdir(parents=True, exist_ok=True)
    sheets = [
        summary,
        groups_sheet(detail, people),
        filed_sheet(detail, people, tz),
        findings_sheet(detail, people),
    ]
    workbook = write_workbook(out / file_name(st.campaign.name), sheets, tz)
    drawn: dict[str, Path] = {}
    makers: list[tuple[str, str, Callable[[], Path]]] = [
        ("trend", "每周现有工作群（按单位，虚线为目标）",
         lambda: charts.trend(trend_chart(weekly), out / CHART_FILES["trend"])),
        ("reduction", "各单位清理率对比目标",
         lambda: charts.reduction(reduction_chart(st), out / CHART_FILES["reduction"])),
        ("burden", "每人所在现有工作群数",
         lambda: charts.burden(burden_chart(detail, names), out / CHART_FILES["burden"])),
        ("labels", "现有工作群标签分布",
         lambda: charts.labels(label_chart(detail), out / CHART_FILES["labels"])),
    ]  # fmt: skip
    captions: list[tuple[str, Path]] = []
    for key, caption, draw in makers:
        drawn[key] = draw()
        captions.append((caption, drawn[key]))
    c = st.campaign
    target = f"目标清理率 {c.target_pct:g}%" if c.target_pct is not None else "未设目标"
    deadline = f"，截止 {c.deadline:%Y-%m-%d}" if c.deadline else ""
    page = Page(
        title=f"{c.name} 清理进度",
        subtitle=f"{c.scope}｜基线日 {c.baseline_date:%Y-%m-%d}｜截至 {st.at:%Y-%m-%d}｜{target}{deadline}",
        table=summary,
        charts=chart_images(captions),
        notes=NOTES,
    )
    index = write_page(page, out / "index.html", tz)
    return CampaignReport(workbook, drawn, index)


def campaign_report(
    engine: Engine,
    *,
    name: str,
    at: date | None,
    now: datetime,
    rules: Rules,
    out: Path,
) -> CampaignReport:
    """Evaluate the campaign at the end of day `at` (default today) and write its report into `out`.

    Raises `CampaignError` (one Chinese line) for an unknown campaign or a day it cannot show.
    """
    detail = campaign_detail(engine, name=name, at=at, now=now, rules=rules)
    c = detail.status.campaign
    weekly = [
        detail.status
        if day == detail.status.at
        else campaign_status(engine, name=name, at=day, now=now, rules=rules)
        for day in week_ends(c.baseline_date, detail.status.at)
    ]
    return write_report(detail, weekly, out, rules.tz, contact_names(engine))
