"""Campaigns (专项清理): storage rows and audits -> campaign figures and 回头看 findings.

The figures at a moment come from the same audit `qingqun audit --at` runs for that day, so a
campaign always agrees with the audit on which groups are active and how they are labelled;
the baseline is frozen when the campaign starts and never read from the rooms again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.services.audit import AuditRow, as_of, run_audit
from policies.campaign import (
    BaselineGroup,
    Finding,
    GroupAt,
    Renaming,
    Twin,
    UnitFigures,
    behind,
    best_twins,
    figures,
    findings,
    subtree,
    suspected_on,
)
from policies.rules import Rules
from storage import campaigns as store
from storage import directory as directory_db
from storage import past as past_db
from storage.db import session_scope
from storage.models import Campaign


class CampaignError(Exception):
    """A refusal for the organiser, in one Chinese line; nothing was written."""


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    campaign: Campaign
    at: date
    units: list[UnitFigures]
    total: UnitFigures

    def as_json(self) -> dict[str, Any]:
        c = self.campaign
        return {
            "campaign": c.name,
            "scope": c.scope,
            "baseline_date": c.baseline_date.isoformat(),
            "at": self.at.isoformat(),
            "target_pct": c.target_pct,
            "deadline": c.deadline.isoformat() if c.deadline else None,
            "units": [u.as_json() for u in self.units],
            "total": self.total.as_json(),
        }


@dataclass(frozen=True, slots=True)
class CampaignCoverage:
    """A campaign seen from one unit inside its scope (a supervisor's 进度, the weekly digest)."""

    campaign: Campaign
    at: date
    figures: UnitFigures  # the unit's whole subtree
    units: list[UnitFigures]  # its direct sub-units (and its own groups), as in `status`
    behind: list[UnitFigures]  # the sub-units furthest behind, worst first
    findings: int  # 回头看 findings in the unit's subtree


def _tz(rules: Rules, tz: ZoneInfo | None) -> ZoneInfo:
    return tz or rules.tz


def _today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def _audit_at(engine: Engine, rules: Rules, day: date, tz: ZoneInfo) -> list[AuditRow]:
    rows, _ = run_audit(engine, rules, as_of(day, tz), tz)
    return rows


def start_campaign(
    engine: Engine,
    *,
    name: str,
    scope: str,
    at: date | None,
    target_pct: float | None,
    deadline: date | None,
    now: datetime,
    rules: Rules,
    tz: ZoneInfo | None = None,
) -> tuple[Campaign, int]:
    """Record a campaign and freeze its baseline; (the campaign, baseline size).

    Refuses with `CampaignError`, writing nothing: an empty or duplicate name, an unknown
    unit, a baseline day in the future, a target outside 0–100, a deadline before the baseline.
    """
    tz = _tz(rules, tz)
    today = _today(now, tz)
    day = at or today
    name = name.strip()
    if not name:
        raise CampaignError("专项行动名称不能为空")
    with session_scope(engine) as s:
        if store.get_campaign(s, name=name) is not None:
            raise CampaignError(f"已有名为“{name}”的专项行动，请换一个名称")
        parents = {u.name: u.parent for u in directory_db.all_units(s)}
    if scope not in parents:
        raise CampaignError(f"没有名为“{scope}”的单位，请先导入单位名册（qingqun roster import）")
    if day > today:
        raise CampaignError(
            f"基线日 {day.isoformat()} 在今天（{today.isoformat()}）之后，基线只能取今天或过去的日期"
        )
    if target_pct is not None and not 0 <= target_pct <= 100:
        raise CampaignError(f"目标清理率 {target_pct:g} 不在 0 到 100 之间")
    if deadline is not None and deadline < day:
        raise CampaignError(f"截止日期 {deadline.isoformat()} 早于基线日 {day.isoformat()}")
    units = subtree(parents, scope)
    rows = _audit_at(engine, rules, day, tz)
    baseline = [r for r in rows if r.room.status == "active" and (r.room.unit or "") in units]
    with session_scope(engine) as s:
        if store.get_campaign(s, name=name) is not None:  # started meanwhile by someone else
            raise CampaignError(f"已有名为“{name}”的专项行动，请换一个名称")
        campaign = store.add_campaign(
            s,
            name=name,
            scope=scope,
            baseline_date=day,
            target_pct=target_pct,
            deadline=deadline,
            at=now,
            baseline=[
                {
                    "room_id": r.room.id,
                    "unit": r.room.unit or "",
                    "topic": r.room.topic,
                    "owner_id": r.room.owner_id,
                    "status": r.room.status,
                    "kind": r.room.kind,
                    "end_date": r.room.end_date,
                    "member_count": r.room.member_count,
                    "labels": json.dumps([lb.code for lb in r.verdict.labels]),
                }
                for r in baseline
            ],
        )
    return campaign, len(baseline)


def list_campaigns(engine: Engine) -> list[tuple[Campaign, int]]:
    """Every campaign with its baseline size, oldest first."""
    with session_scope(engine) as s:
        return store.campaigns_with_sizes(s)


@dataclass(frozen=True, slots=True)
class _Evaluation:
    """Everything a campaign's figures and findings at one day are computed from."""

    campaign: Campaign
    day: date
    parents: dict[str, str | None]
    baseline: list[BaselineGroup]
    groups: dict[str, GroupAt]
    merged: dict[str, Twin]
    recreated: dict[str, Twin]
    renamed: dict[str, Renaming]
    baseline_end: datetime
    local_day: Callable[[datetime], date]
    rows: dict[str, AuditRow]  # the audit at the moment, by room id
    members_before: dict[str, frozenset[str]]  # groups gone since the baseline: members the day before


def _load(
    engine: Engine, *, name: str, at: date | None, now: datetime, rules: Rules, tz: ZoneInfo
) -> _Evaluation:
    today = _today(now, tz)
    with session_scope(engine) as s:
        campaign = store.get_campaign(s, name=name)
        if campaign is None:
            raise CampaignError(f"没有名为“{name}”的专项行动（qingqun campaign list 查看全部）")
        baseline = [
            BaselineGroup(b.room_id, b.unit, b.topic, b.owner_id, tuple(json.loads(b.labels)))
            for b in store.baseline_rows(s, campaign_id=campaign.id or 0)
        ]
        parents = {u.name: u.parent for u in directory_db.all_units(s)}
    day = at or today
    if day > today:
        raise CampaignError(f"日期 {day.isoformat()} 在今天（{today.isoformat()}）之后")
    if day < campaign.baseline_date:
        raise CampaignError(f"日期 {day.isoformat()} 早于基线日 {campaign.baseline_date.isoformat()}")
    moment = as_of(day, tz)
    baseline_end = as_of(campaign.baseline_date, tz)

    def local_day(m: datetime) -> date:
        return m.astimezone(tz).date()

    rows = _audit_at(engine, rules, day, tz)
    groups = {
        r.room.id: GroupAt(
            room_id=r.room.id,
            topic=r.room.topic,
            unit=r.room.unit,
            owner_id=r.room.owner_id,
            status=r.room.status,
            status_at=r.room.status_at,
            enrolled_at=r.room.enrolled_at,
            kind=r.room.kind,
            end_date=r.room.end_date,
            labels=tuple(lb.code for lb in r.verdict.labels),
            member_count=r.room.member_count,
            messages_30d=r.messages_30d,
        )
        for r in rows
    }
    facts = {r.room.id: r.facts for r in rows}
    alive = {rid: frozenset(facts[rid].member_ids) for rid, g in groups.items() if g.status != "dissolved"}
    in_baseline = {b.room_id for b in baseline}
    # Groups gone since the baseline day, with their members on the day before they went.
    gone: dict[str, datetime] = {}
    for rid, g in groups.items():
        if g.status in ("dissolved", "removed") and g.status_at is not None and g.status_at > baseline_end:
            gone[rid] = as_of(local_day(g.status_at) - timedelta(days=1), tz)
    before: dict[str, frozenset[str]] = {}
    with session_scope(engine) as s:
        for moment_before in sorted(set(gone.values())):
            ids = [rid for rid, m in gone.items() if m == moment_before]
            before.update(past_db.members_as_of(s, at=moment_before, room_ids=ids))
        old_topics = past_db.topic_changes(s, after=baseline_end, until=moment)
    dissolved_baseline = {
        rid: before.get(rid, frozenset())
        for rid in in_baseline
        if rid in gone and groups[rid].status == "dissolved"
    }
    merged = best_twins(dissolved_baseline, alive, rules.duplicate)
    late_alive = {
        rid: members
        for rid, members in alive.items()
        if (e := groups[rid].enrolled_at) is not None and e > baseline_end
    }
    gone_baseline = {rid: before.get(rid, frozenset()) for rid in in_baseline if rid in gone}
    recreated = best_twins(late_alive, gone_baseline, rules.duplicate)
    renamed: dict[str, Renaming] = {}
    for rid, (old, changed) in old_topics.items():
        cur = groups.get(rid)
        if cur is None or cur.status != "active" or old == cur.topic:
            continue
        renamed[rid] = Renaming(
            old_topic=old,
            changed_on=local_day(changed),
            old_label=suspected_on(facts[rid], old, rules, moment),
            new_label=suspected_on(facts[rid], cur.topic, rules, moment),
        )
    return _Evaluation(
        campaign,
        day,
        parents,
        baseline,
        groups,
        merged,
        recreated,
        renamed,
        baseline_end,
        local_day,
        {r.room.id: r for r in rows},
        before,
    )


def _figures(ev: _Evaluation, root: str) -> tuple[list[UnitFigures], UnitFigures]:
    return figures(
        parents=ev.parents,
        root=root,
        baseline=ev.baseline,
        groups=ev.groups,
        merged=ev.merged,
        baseline_end=ev.baseline_end,
    )


def _findings(ev: _Evaluation, root: str) -> list[Finding]:
    return findings(
        units=subtree(ev.parents, root),
        baseline=ev.baseline,
        groups=ev.groups,
        recreated=ev.recreated,
        renamed=ev.renamed,
        baseline_end=ev.baseline_end,
        at_day=ev.day,
        baseline_day=ev.campaign.baseline_date,
        local_day=ev.local_day,
    )


def campaign_status(
    engine: Engine,
    *,
    name: str,
    at: date | None,
    now: datetime,
    rules: Rules,
    tz: ZoneInfo | None = None,
    unit: str | None = None,
) -> CampaignStatus:
    """The campaign's figures at the end of day `at` (default today), by direct sub-unit.

    `unit` (a unit inside the scope; default the scope itself) roots the figures there: its
    direct sub-units and its whole subtree as the total, as a supervisor of that unit sees them.
    """
    ev = _load(engine, name=name, at=at, now=now, rules=rules, tz=_tz(rules, tz))
    return _status(ev, unit or ev.campaign.scope)


def _status(ev: _Evaluation, unit: str) -> CampaignStatus:
    if unit not in subtree(ev.parents, ev.campaign.scope):
        c = ev.campaign
        raise CampaignError(f"单位“{unit}”不在专项行动“{c.name}”的范围（{c.scope}）内")
    units, total = _figures(ev, unit)
    return CampaignStatus(ev.campaign, ev.day, units, total)


def campaign_recheck(
    engine: Engine,
    *,
    name: str,
    at: date | None,
    now: datetime,
    rules: Rules,
    tz: ZoneInfo | None = None,
) -> tuple[Campaign, date, list[Finding]]:
    """The 回头看 findings of the campaign's scope at the end of day `at` (default today)."""
    ev = _load(engine, name=name, at=at, now=now, rules=rules, tz=_tz(rules, tz))
    return ev.campaign, ev.day, _findings(ev, ev.campaign.scope)


def campaigns_covering(
    engine: Engine,
    *,
    unit: str,
    at: date | None,
    now: datetime,
    rules: Rules,
    tz: ZoneInfo | None = None,
    behind_limit: int = 3,
) -> list[CampaignCoverage]:
    """The campaigns whose scope covers `unit`, each with the figures of `unit`'s subtree.

    For a supervisor's progress reply and the weekly digest: the unit's own total, its
    sub-units (furthest behind first in `behind`), and how many 回头看 findings lie in its
    subtree. Campaigns started after `at` are left out.
    """
    tz = _tz(rules, tz)
    day = at or _today(now, tz)
    with session_scope(engine) as s:
        parents = {u.name: u.parent for u in directory_db.all_units(s)}
        names = [c.name for c, _ in store.campaigns_with_sizes(s)]
        covering = [
            n
            for n in names
            if (c := store.get_campaign(s, name=n)) is not None
            and unit in subtree(parents, c.scope)
            and c.baseline_date <= day
        ]
    out: list[CampaignCoverage] = []
    for n in covering:
        ev = _load(engine, name=n, at=day, now=now, rules=rules, tz=tz)
        units, total = _figures(ev, unit)
        out.append(
            CampaignCoverage(
                campaign=ev.campaign,
                at=ev.day,
                figures=total,
                units=units,
                behind=behind(units, behind_limit),
                findings=len(_findings(ev, unit)),
            )
        )
    return out


def campaign_trend(
    engine: Engine,
    *,
    name: str,
    units: Sequence[str],
    days: Sequence[date],
    now: datetime,
    rules: Rules,
    tz: ZoneInfo | None = None,
) -> dict[str, list[CampaignStatus]]:
    """For each of `units`, its `campaign_status` (rooted at it) on each of `days`.

    The same figures as calling `campaign_status(unit=…, at=day)` for each pair, with the
    campaign evaluated once per day however many units ask (the weekly digest's charts).
    """
    tz = _tz(rules, tz)
    out: dict[str, list[CampaignStatus]] = {u: [] for u in units}
    for day in days:
        ev = _load(engine, name=name, at=day, now=now, rules=rules, tz=tz)
        for unit in units:
            out[unit].append(_status(ev, unit))
    return out
