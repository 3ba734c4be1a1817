"""The campaign report's four charts, from the figures the report's sheets show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from bot.core.wording import label_cn
from bot.reports import charts
from bot.services.campaign_groups import CampaignDetail
from bot.services.campaigns import CampaignStatus


def trend_chart(statuses: list[CampaignStatus]) -> charts.TrendChart:
    """Existing groups of each row at each day of `statuses` (the first is the baseline day)."""
    first = statuses[0]
    units = list(dict.fromkeys(u.unit for st in statuses for u in st.units))
    series = tuple(
        charts.UnitSeries(
            unit, tuple(next((u.active for u in st.units if u.unit == unit), 0) for st in statuses)
        )
        for unit in units
    )
    c = first.campaign
    return charts.TrendChart(
        title=f"{c.scope}「{c.name}」每周现有工作群",
        weeks=tuple(st.at for st in statuses),
        units=series,
        baseline=first.total.baseline,
        target_pct=c.target_pct,
    )


def reduction_chart(st: CampaignStatus) -> charts.ReductionChart:
    return charts.ReductionChart(
        title=f"各单位清理率（{st.campaign.name}，截至 {st.at:%Y-%m-%d}）",
        units=tuple(charts.UnitReduction(u.unit, u.baseline, u.active, u.reduction_pct) for u in st.units),
        target_pct=st.campaign.target_pct,
    )


def burden_chart(detail: CampaignDetail, names: Mapping[str, str]) -> charts.BurdenChart:
    """How many of the scope's existing groups each person is in."""
    counts: Counter[str] = Counter()
    for r in detail.existing:
        counts.update(set(r.facts.member_ids))
    people = tuple(charts.PersonGroups(names[cid], n) for cid, n in counts.items() if names.get(cid))
    unnamed = tuple(n for cid, n in counts.items() if not names.get(cid))
    st = detail.status
    # Only people in several groups are named: a list of people in one group each says nothing.
    heavy = sum(p.groups >= 2 for p in people)
    title = f"{st.campaign.scope}人均所在现有工作群（截至 {st.at:%Y-%m-%d}）"
    return charts.BurdenChart(title, people, unnamed, named=min(5, heavy))


def label_chart(detail: CampaignDetail) -> charts.LabelChart:
    counts = Counter(
        code for r in detail.existing for code in dict.fromkeys(lb.code for lb in r.verdict.labels)
    )
    st = detail.status
    return charts.LabelChart(
        title=f"{st.campaign.scope}现有工作群标签分布（截至 {st.at:%Y-%m-%d}）",
        labels=tuple(charts.LabelCount(label_cn(code), n) for code, n in counts.most_common()),
        active=len(detail.existing),
    )
