"""Campaign (专项清理) figures and re-check (回头看) findings: facts in, figures out, no I/O.

A campaign compares its frozen baseline (the groups active at the end of the baseline day) with
the groups as an audit shows them at a later moment. A group the bot was removed from still
exists, so it counts as active: evading the bot never improves the figure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from policies.duplicates import find_duplicates
from policies.engine import evaluate
from policies.model import Label, RoomFacts
from policies.rules import DuplicateRules, Rules

FINDING_KINDS: tuple[str, ...] = ("new", "recreated", "renamed", "revived", "removed_alive", "expired_active")
_KIND_CN = {"temporary": "临时", "phase": "阶段性"}


@dataclass(frozen=True, slots=True)
class BaselineGroup:
    """A group of the baseline as it was at the end of the baseline day (never changes)."""

    room_id: str
    unit: str
    topic: str
    owner_id: str | None
    labels: tuple[str, ...] = ()  # label codes the audit gave it that day


@dataclass(frozen=True, slots=True)
class GroupAt:
    """A group as the audit shows it at the campaign's moment."""

    room_id: str
    topic: str
    unit: str | None
    owner_id: str | None
    status: str  # active | dissolved | removed
    status_at: datetime | None
    enrolled_at: datetime | None
    kind: str | None
    end_date: date | None
    labels: tuple[str, ...]
    member_count: int = 0
    messages_30d: int = 0


@dataclass(frozen=True, slots=True)
class Twin:
    """The group another one overlaps with enough to be its duplicate."""

    room_id: str
    shared: int
    union: int

    @property
    def percent(self) -> int:
        return round(100 * self.shared / self.union)


@dataclass(frozen=True, slots=True)
class UnitFigures:
    unit: str
    baseline: int
    dissolved: int
    merged: int
    removed: int
    new: int
    active: int

    @property
    def reduction_pct(self) -> float | None:
        """100 × (baseline − active) / baseline, to 2 decimals; None without a baseline."""
        if self.baseline == 0:
            return None
        return round(100 * (self.baseline - self.active) / self.baseline, 2)

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "baseline": self.baseline,
            "dissolved": self.dissolved,
            "merged": self.merged,
            "removed": self.removed,
            "new": self.new,
            "active": self.active,
            "reduction_pct": self.reduction_pct,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    finding: str
    room_id: str
    topic: str
    unit: str | None
    owner_id: str | None
    related_room_id: str | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "finding": self.finding,
            "room_id": self.room_id,
            "topic": self.topic,
            "unit": self.unit,
            "owner_id": self.owner_id,
            "related_room_id": self.related_room_id,
            "reason": self.reason,
        }


# ---------------------------------------------------------------- the unit tree


def subtree(parents: Mapping[str, str | None], root: str) -> set[str]:
    """`root` and every unit below it."""
    children: dict[str | None, list[str]] = {}
    for name, parent in parents.items():
        children.setdefault(parent, []).append(name)
    out: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(children.get(name, []))
    return out


def row_units(parents: Mapping[str, str | None], root: str) -> tuple[list[str], dict[str, str]]:
    """(direct children of `root` by name, unit -> the row it counts in) for `root`'s subtree.

    A unit counts in the row of the child of `root` it lies under; `root` counts in its own row.
    """
    children = sorted(name for name, parent in parents.items() if parent == root and name != root)
    row_of = {root: root}
    for child in children:
        for unit in subtree(parents, child):
            row_of.setdefault(unit, child)
    return children, row_of


# ---------------------------------------------------------------- duplicates across time


def best_twins(
    probes: Mapping[str, Collection[str]], candidates: Mapping[str, Collection[str]], rule: DuplicateRules
) -> dict[str, Twin]:
    """For each probe, the candidate it is a duplicate of by the duplicate rule (the closest one).

    Probes and candidates are memberships, possibly of different moments (a group's members on
    the day before it was disbanded against a group's members now); pairs within one side count
    for nothing. Ties go to the smaller room id.
    """
    if not probes or not candidates:
        return {}
    keyed: dict[str, Collection[str]] = {}
    for room_id, members in probes.items():
        keyed["p\x1f" + room_id] = frozenset(members)
    for room_id, members in candidates.items():
        keyed["c\x1f" + room_id] = frozenset(members)
    pairs = find_duplicates(keyed, threshold=rule.jaccard, min_members=rule.min_members)
    best: dict[str, tuple[tuple[float, str], Twin]] = {}
    for pair in pairs:
        a_side, a_id = pair.a.split("\x1f", 1)
        b_side, b_id = pair.b.split("\x1f", 1)
        if a_side == b_side:
            continue
        probe, cand = (a_id, b_id) if a_side == "p" else (b_id, a_id)
        if probe == cand:
            continue
        key = (-pair.jaccard, cand)
        if probe not in best or key < best[probe][0]:
            best[probe] = (key, Twin(cand, pair.shared, pair.union))
    return {probe: twin for probe, (_, twin) in best.items()}


# ---------------------------------------------------------------- figures


def figures(
    *,
    parents: Mapping[str, str | None],
    root: str,
    baseline: Sequence[BaselineGroup],
    groups: Mapping[str, GroupAt],
    merged: Collection[str],
    baseline_end: datetime,
) -> tuple[list[UnitFigures], UnitFigures]:
    """The rows of `root`'s subtree and their total.

    `groups` is every group the audit shows at the moment (by id), `merged` the baseline groups
    disbanded into a surviving duplicate (`best_twins`), `baseline_end` the end of the baseline
    day. Baseline groups count in the row of their baseline unit; the state at the moment (new,
    active) in the row of the group's unit then.
    """
    children, row_of = row_units(parents, root)
    counts: dict[str, dict[str, int]] = {}

    def bump(row: str, field: str) -> None:
        counts.setdefault(
            row, dict.fromkeys(("baseline", "dissolved", "merged", "removed", "new", "active"), 0)
        )
        counts[row][field] += 1

    for b in baseline:
        row = row_of.get(b.unit)
        if row is None:
            continue
        bump(row, "baseline")
        now = groups.get(b.room_id)
        status = now.status if now is not None else "active"
        if status == "dissolved":
            bump(row, "merged" if b.room_id in merged else "dissolved")
        elif status == "removed":
            bump(row, "removed")
    for g in groups.values():
        row = row_of.get(g.unit or "")
        if row is None or g.status == "dissolved":
            continue
        bump(row, "active")
        if g.enrolled_at is not None and g.enrolled_at > baseline_end:
            bump(row, "new")
    empty = dict.fromkeys(("baseline", "dissolved", "merged", "removed", "new", "active"), 0)
    rows = [UnitFigures(child, **counts.get(child, empty)) for child in children]
    if root in counts:
        rows.append(UnitFigures(root, **counts[root]))
    total = {k: sum(c[k] for c in counts.values()) for k in empty}
    return rows, UnitFigures(root, **total)


# ---------------------------------------------------------------- re-check (回头看)


def suspected_on(facts: RoomFacts, topic: str, rules: Rules, now: datetime) -> Label | None:
    """The `suspected_phase_expired` label the group would carry at `now` under `topic`."""
    verdict = evaluate([replace(facts, topic=topic)], rules, now)[0]
    return next((lb for lb in verdict.labels if lb.code == "suspected_phase_expired"), None)


@dataclass(frozen=True, slots=True)
class Renaming:
    """A topic change after the baseline day, judged at the campaign's moment."""

    old_topic: str
    changed_on: date
    old_label: Label | None  # suspected_phase_expired on the old topic
    new_label: Label | None  # … and on the current one


def findings(
    *,
    units: Collection[str],
    baseline: Sequence[BaselineGroup],
    groups: Mapping[str, GroupAt],
    recreated: Mapping[str, Twin],
    renamed: Mapping[str, Renaming],
    baseline_end: datetime,
    at_day: date,
    baseline_day: date,
    local_day: Callable[[datetime], date],
) -> list[Finding]:
    """The 回头看 findings over the groups of `units`, by kind then room id.

    `recreated` maps new groups to the baseline group they duplicate (disbanded or bot removed
    after the baseline day), `renamed` the groups renamed after the baseline day,
    `local_day(moment)` the local date of a moment.
    """
    in_baseline = {b.room_id: b for b in baseline}
    out: list[Finding] = []

    def add(kind: str, g: GroupAt, related: str | None, reason: str) -> None:
        out.append(Finding(kind, g.room_id, g.topic, g.unit, g.owner_id, related, reason))

    def mine(g: GroupAt) -> bool:
        b = in_baseline.get(g.room_id)
        return (b.unit if b is not None else g.unit or "") in units

    for g in sorted(groups.values(), key=lambda x: x.room_id):
        if not mine(g):
            continue
        alive = g.status != "dissolved"
        late = g.enrolled_at is not None and g.enrolled_at > baseline_end
        twin = recreated.get(g.room_id)
        if late and twin is not None:
            gone = groups.get(twin.room_id)
            how = "解散" if gone is not None and gone.status == "dissolved" else "移出机器人"
            when = (
                local_day(gone.status_at).isoformat() if gone is not None and gone.status_at else "基线日后"
            )
            topic = gone.topic if gone is not None else twin.room_id
            add(
                "recreated",
                g,
                twin.room_id,
                f"与 {when} {how}的基线群「{topic}」成员重合 {twin.percent}%"
                f"（{twin.shared}/{twin.union} 人），疑似换名重建",
            )
        elif late and alive and g.enrolled_at is not None:
            add(
                "new",
                g,
                None,
                f"基线日 {baseline_day.isoformat()} 之后于 {local_day(g.enrolled_at).isoformat()} 新建纳管，"
                f"至 {at_day.isoformat()} 未解散，现有成员 {g.member_count} 人",
            )
        r = renamed.get(g.room_id)
        if r is not None and r.old_label is not None and r.new_label is None:
            add(
                "renamed",
                g,
                None,
                f"{r.changed_on.isoformat()} 由「{r.old_topic}」改名为「{g.topic}」；"
                f"按原名{r.old_label.reason.split('；')[0]}，新名不再显示到期",
            )
        b = in_baseline.get(g.room_id)
        if b is not None and "idle" in b.labels and g.status == "active" and "idle" not in g.labels:
            add(
                "revived",
                g,
                None,
                f"基线日 {baseline_day.isoformat()} 被判为僵尸群，至 {at_day.isoformat()} "
                f"近 30 天有 {g.messages_30d} 条消息",
            )
        if b is not None and g.status == "removed":
            when = local_day(g.status_at).isoformat() if g.status_at else "基线日后"
            add("removed_alive", g, None, f"{when} 机器人被移出，群仍存在，仍按在存群计算")
        if g.kind in _KIND_CN and g.end_date is not None and g.end_date < at_day and alive:
            days = (at_day - g.end_date).days
            add(
                "expired_active",
                g,
                None,
                f"登记为{_KIND_CN[g.kind]}群，截止 {g.end_date.isoformat()}，"
                f"至 {at_day.isoformat()} 已过期 {days} 天仍未解散",
            )
    order = {kind: i for i, kind in enumerate(FINDING_KINDS)}
    out.sort(key=lambda f: (order[f.finding], f.room_id))
    return out


def behind(rows: Iterable[UnitFigures], limit: int = 3) -> list[UnitFigures]:
    """The rows furthest behind: lowest reduction first, rows without a baseline left out."""
    ranked = [r for r in rows if r.reduction_pct is not None]
    ranked.sort(key=lambda r: (r.reduction_pct, -r.baseline, r.unit))
    return ranked[:limit]


# ---------------------------------------------------------------- what became of each group

OUTCOMES: tuple[str, ...] = ("kept", "pending", "merged", "dissolved", "removed")


def group_outcome(status: str, *, merged: bool, labels: Collection[str], awaiting: bool = False) -> str:
    """What became of a baseline or new group by the campaign's moment, for the 清理统计表.

    `merged`: disbanded into a surviving duplicate (`best_twins`). A group still in use is
    `pending` while the audit still labels it or a request about it awaits its supervisor
    (`awaiting`): something is left to do; `kept` otherwise. A group the bot was removed from
    is `removed`, since it lives on out of sight.
    """
    if status == "dissolved":
        return "merged" if merged else "dissolved"
    if status == "removed":
        return "removed"
    return "pending" if labels or awaiting else "kept"
