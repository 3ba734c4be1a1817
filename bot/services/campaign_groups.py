"""A campaign group by group (the report's 清理统计表 and 备案表): what became of each baseline
or new group, the duplicate a merged group continues in, and the groups filed as kept.

Computed from the same evaluation as `campaign status`, so the rows add up to its figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.services.audit import AuditRow, as_of
from bot.services.campaigns import CampaignStatus, _figures, _findings, _load, _tz
from policies.campaign import BaselineGroup, Finding, Twin, group_outcome, subtree
from policies.rules import Rules
from storage import past as past_db
from storage.db import session_scope


@dataclass(frozen=True, slots=True)
class CampaignGroup:
    """One baseline or new group of a campaign and what became of it by the campaign's moment."""

    room_id: str
    unit: str  # the baseline unit of a baseline group, else the group's unit then
    in_baseline: bool
    row: AuditRow | None  # the group as the audit shows it at the moment (None: no longer stored)
    topic: str
    owner_id: str | None
    outcome: str  # policies.campaign.OUTCOMES
    outcome_at: datetime | None  # when it was disbanded or the bot removed
    merged_into: Twin | None  # for a merged group: the group whose members continue it
    members: int  # members now; for a disbanded group, on the day before it went


@dataclass(frozen=True, slots=True)
class FiledGroup:
    """A group filed as kept (备案): registered 常设 (approved or awaiting approval), or approved
    to be kept (保留) despite its labels."""

    row: AuditRow
    basis: str  # standing | retain
    approved: bool  # False: a 常设 registration still awaiting its supervisor
    approved_by: str | None
    approved_at: datetime | None


@dataclass(frozen=True, slots=True)
class CampaignDetail:
    """Everything the campaign report shows at one moment, from one evaluation."""

    status: CampaignStatus
    findings: list[Finding]
    groups: list[CampaignGroup]  # baseline groups and groups enrolled since, by unit then topic
    filed: list[FiledGroup]  # in the scope and not disbanded, by unit then topic
    existing: list[AuditRow]  # the scope's groups not disbanded at the moment (现有), by room id


def campaign_detail(
    engine: Engine,
    *,
    name: str,
    at: date | None,
    now: datetime,
    rules: Rules,
    tz: ZoneInfo | None = None,
) -> CampaignDetail:
    """The campaign's figures, findings and group by group outcome at the end of day `at`."""
    tz = _tz(rules, tz)
    ev = _load(engine, name=name, at=at, now=now, rules=rules, tz=tz)
    units, total = _figures(ev, ev.campaign.scope)
    status = CampaignStatus(ev.campaign, ev.day, units, total)
    scope = subtree(ev.parents, ev.campaign.scope)
    baseline_ids = {b.room_id for b in ev.baseline}
    out: list[CampaignGroup] = []

    def group(room_id: str, unit: str, base: BaselineGroup | None) -> CampaignGroup:
        row = ev.rows.get(room_id)
        g = ev.groups.get(room_id)
        status_now = g.status if g is not None else "active"
        labels = g.labels if g is not None else ()
        gone = status_now in ("dissolved", "removed")
        before = ev.members_before.get(room_id)
        members = len(before) if gone and before is not None else (g.member_count if g else 0)
        return CampaignGroup(
            room_id=room_id,
            unit=unit,
            in_baseline=base is not None,
            row=row,
            topic=g.topic if g is not None else (base.topic if base else room_id),
            owner_id=g.owner_id if g is not None else (base.owner_id if base else None),
            outcome=group_outcome(
                status_now,
                merged=room_id in ev.merged,
                labels=labels,
                awaiting=row is not None and bool(row.pending),
            ),
            outcome_at=g.status_at if g is not None and gone else None,
            merged_into=ev.merged.get(room_id) if status_now == "dissolved" else None,
            members=members,
        )

    for b in ev.baseline:
        if b.unit in scope:
            out.append(group(b.room_id, b.unit, b))
    for g in ev.groups.values():
        late = g.enrolled_at is not None and g.enrolled_at > ev.baseline_end
        if late and g.room_id not in baseline_ids and (g.unit or "") in scope:
            out.append(group(g.room_id, g.unit or "", None))
    out.sort(key=lambda x: (x.unit, not x.in_baseline, x.topic, x.room_id))

    existing = sorted(
        (r for r in ev.rows.values() if (r.room.unit or "") in scope and r.room.status != "dissolved"),
        key=lambda r: r.room.id,
    )
    with session_scope(engine) as s:
        approvals = past_db.approvals_as_of(s, at=as_of(ev.day, tz), kinds=("standing", "retain"))
    filed: list[FiledGroup] = []
    for r in existing:
        if r.room.kind == "standing":
            basis = "standing"
        elif r.facts.retained:
            basis = "retain"
        else:
            continue
        approved = r.room.approved or basis == "retain"
        by, when = approvals.get((r.room.id, basis), (None, None)) if approved else (None, None)
        filed.append(FiledGroup(r, basis, approved, by, when))
    filed.sort(key=lambda f: (f.row.room.unit or "", f.row.room.topic, f.row.room.id))
    return CampaignDetail(status, _findings(ev, ev.campaign.scope), out, filed, existing)
