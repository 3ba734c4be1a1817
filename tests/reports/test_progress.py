"""The campaign progress sentence (进度, the digest) and the trend chart's days and series."""

from __future__ import annotations

from datetime import date

import pytest

from bot.reports.progress import progress_text, trend_chart, trend_days
from bot.services.campaigns import CampaignCoverage, CampaignStatus
from policies.campaign import UnitFigures, behind
from storage.models import Campaign

TODAY = date(2026, 11, 20)


def _row(unit: str, baseline: int, active: int) -> UnitFigures:
    return UnitFigures(unit, baseline, dissolved=0, merged=0, removed=0, new=0, active=active)


def _coverage(
    units: list[UnitFigures], *, target: float | None = 40.0, deadline: date | None = date(2026, 12, 31)
) -> CampaignCoverage:
    total = _row("黑龙潭镇", sum(u.baseline for u in units), sum(u.active for u in units))
    campaign = Campaign(name="冬季清理", scope="郾城区", baseline_date=date(2026, 10, 12),
                        target_pct=target, deadline=deadline)  # fmt: skip
    return CampaignCoverage(campaign, TODAY, total, units, behind(units), findings=2)


def test_progress_text_names_the_counts_the_target_and_the_slowest() -> None:
    cov = _coverage([_row("甲村", 10, 9), _row("乙村", 10, 3), _row("丙村", 0, 1)])
    assert progress_text(cov, TODAY) == (
        "专项行动「冬季清理」：清理率 35.00%（基准 20 个群，现有 13 个），目标 40%，还差 5.00 个百分点；"
        "截止 2026-12-31，还有 41 天；进度最慢：甲村 10.00%、乙村 70.00%；回头看发现问题 2 个。"
    )


@pytest.mark.parametrize(
    ("target", "deadline", "expected"),
    [
        (30.0, TODAY, "清理率 35.00%（基准 20 个群，现有 13 个），已达目标 30%；今天（2026-11-20）截止；"),
        (None, date(2026, 11, 17), "，未设目标；已过截止日期 2026-11-17 3 天；"),
        (None, None, "，未设目标；进度最慢："),
    ],
)
def test_progress_text_target_and_deadline_cases(
    target: float | None, deadline: date | None, expected: str
) -> None:
    cov = _coverage([_row("甲村", 10, 9), _row("乙村", 10, 4)], target=target, deadline=deadline)
    assert expected in progress_text(cov, TODAY)


def test_progress_text_without_a_baseline_or_sub_units() -> None:
    cov = _coverage([_row("黑龙潭镇", 0, 2)])
    assert progress_text(cov, TODAY) == (
        "专项行动「冬季清理」：基准 0 个群，现有 2 个，暂无清理率；截止 2026-12-31，还有 41 天；"
        "回头看发现问题 2 个。"
    )


def test_trend_days_are_the_baseline_each_sunday_and_today() -> None:
    assert trend_days(date(2026, 10, 12), date(2026, 10, 12)) == [date(2026, 10, 12)]
    assert trend_days(date(2026, 10, 12), date(2026, 10, 16)) == [date(2026, 10, 12), date(2026, 10, 16)]
    # A Sunday baseline: the next point is the following Sunday; a Sunday today is not repeated.
    assert trend_days(date(2026, 10, 11), date(2026, 10, 25)) == [
        date(2026, 10, 11), date(2026, 10, 18), date(2026, 10, 25),
    ]  # fmt: skip


def test_trend_chart_keeps_rows_that_appear_later() -> None:
    campaign = Campaign(name="冬季清理", scope="郾城区", baseline_date=date(2026, 10, 12), target_pct=40.0)
    first = CampaignStatus(campaign, date(2026, 10, 12), [_row("甲村", 3, 3)], _row("镇", 3, 3))
    rows = [_row("甲村", 3, 2), _row("镇", 0, 1)]
    later = CampaignStatus(campaign, date(2026, 10, 18), rows, _row("镇", 3, 3))
    chart = trend_chart("镇", [first, later])
    assert [(s.unit, s.active) for s in chart.units] == [("甲村", (3, 2)), ("镇", (0, 1))]
    assert (chart.baseline, chart.target_pct) == (3, 40.0)
    assert chart.weeks == (date(2026, 10, 12), date(2026, 10, 18))
    assert chart.title == "冬季清理：镇及下辖单位在用工作群（每周）"
    with pytest.raises(ValueError, match="baseline"):
        trend_chart("镇", [])
