"""A campaign's progress seen from one unit, in short Chinese text and as the weekly trend chart.

The supervisor's `进度` reply and the weekly supervisor digest both read these, so the two say
the same thing in the same words. Nothing here reads storage: the figures come in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from bot.core.wording import CAMPAIGN_CHART_FILE, CAMPAIGN_CHART_TITLE
from bot.reports.charts import TrendChart, UnitSeries
from bot.services.campaigns import CampaignCoverage, CampaignStatus


def _pct(value: float) -> str:
    return f"{value:.2f}%"


def deadline_text(deadline: date | None, today: date) -> str:
    if deadline is None:
        return ""
    days = (deadline - today).days
    if days > 0:
        return f"截止 {deadline.isoformat()}，还有 {days} 天"
    if days == 0:
        return f"今天（{deadline.isoformat()}）截止"
    return f"已过截止日期 {deadline.isoformat()} {-days} 天"


def rate_text(cov: CampaignCoverage) -> str:
    """清理率 with the counts it is computed from, and how it stands against the target."""
    f, target = cov.figures, cov.campaign.target_pct
    pct = f.reduction_pct
    if pct is None:
        return f"基准 0 个群，现有 {f.active} 个，暂无清理率"
    text = f"清理率 {_pct(pct)}（基准 {f.baseline} 个群，现有 {f.active} 个）"
    if target is None:
        return text + "，未设目标"
    if pct >= target:
        return text + f"，已达目标 {target:g}%"
    return text + f"，目标 {target:g}%，还差 {target - pct:.2f} 个百分点"


def behind_text(cov: CampaignCoverage) -> str:
    """The sub-units furthest behind; empty when the unit has nothing below it to compare."""
    if len(cov.units) < 2 or not cov.behind:
        return ""
    return "进度最慢：" + "、".join(f"{u.unit} {_pct(u.reduction_pct or 0.0)}" for u in cov.behind)


def progress_text(cov: CampaignCoverage, today: date) -> str:
    """One campaign in one sentence: rate vs target, deadline, slowest units, 回头看 findings."""
    parts = [rate_text(cov)]
    if d := deadline_text(cov.campaign.deadline, today):
        parts.append(d)
    if b := behind_text(cov):
        parts.append(b)
    parts.append(f"回头看发现问题 {cov.findings} 个")
    return f"专项行动「{cov.campaign.name}」：" + "；".join(parts) + "。"


def trend_days(baseline: date, today: date) -> list[date]:
    """The baseline day, then the last day (Sunday) of each week since, ending with `today`."""
    days = [baseline]
    sunday = baseline + timedelta(days=6 - baseline.weekday())
    if sunday == baseline:
        sunday += timedelta(days=7)
    while sunday < today:
        days.append(sunday)
        sunday += timedelta(days=7)
    if today > baseline:
        days.append(today)
    return days


def trend_chart(unit: str, statuses: Sequence[CampaignStatus]) -> TrendChart:
    """The trend chart of `unit`'s subtree from its weekly figures (first = the baseline day)."""
    if not statuses:
        raise ValueError("a trend needs at least the baseline day's figures")
    first = statuses[0]
    # A row can appear later (the unit's own first group, say): every row seen, in order.
    names = list(dict.fromkeys(u.unit for s in statuses for u in s.units))
    series = tuple(
        UnitSeries(
            name,
            tuple(next((u.active for u in s.units if u.unit == name), 0) for s in statuses),
        )
        for name in names
    )
    return TrendChart(
        title=CAMPAIGN_CHART_TITLE.format(campaign=first.campaign.name, unit=unit),
        weeks=tuple(s.at for s in statuses),
        units=series,
        baseline=first.total.baseline,
        target_pct=first.campaign.target_pct,
    )


def chart_file_name(unit: str, period: str) -> str:
    return CAMPAIGN_CHART_FILE.format(unit=unit, period=period)
