"""Chart inputs from what the audit already computes (labels, people's burden), so the charts
that need no campaign figures can be drawn today."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from bot.reports.charts import BurdenChart, LabelChart, LabelCount, PersonGroups
from bot.services.audit import AuditRow
from policies.model import Burden


def label_chart(rows: Iterable[AuditRow], label_names: Mapping[str, str], title: str) -> LabelChart:
    """Active groups per label; a code without a Chinese name is shown as the code."""
    active = [r for r in rows if r.room.status == "active"]
    counts = Counter(code for r in active for code in dict.fromkeys(lb.code for lb in r.verdict.labels))
    return LabelChart(
        title=title,
        labels=tuple(LabelCount(label_names.get(code, code), n) for code, n in counts.most_common()),
        active=len(active),
    )


def burden_chart(
    burdens: Iterable[Burden], names: Mapping[str, str], title: str, named: int = 5
) -> BurdenChart:
    """Groups per person (people in no active group left out); people without a name in the
    roster are counted in the histogram but never listed."""
    people: list[PersonGroups] = []
    unnamed: list[int] = []
    for b in burdens:
        if not b.active_groups:
            continue
        name = names.get(b.contact_id)
        if name:
            people.append(PersonGroups(name, b.active_groups))
        else:
            unnamed.append(b.active_groups)
    return BurdenChart(title=title, people=tuple(people), unnamed=tuple(unnamed), named=named)
