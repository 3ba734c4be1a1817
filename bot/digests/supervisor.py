"""Supervisor digests: weekly, on the last working day of the ISO week, for the supervisor's unit
and every unit below it. Composed from a `World`, pure (no I/O)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.core import wording
from bot.core.domain import OutgoingMessage
from bot.core.wording import LABEL_CN, SUPERVISOR_FOOTER, label_cn
from bot.digests.calendar import calendar_gap, iso_week, month_day, week_start
from bot.digests.loading import World
from bot.digests.owner import actionable
from bot.reports.progress import progress_text
from bot.services.audit import AuditRow
from bot.services.campaigns import CampaignCoverage
from policies.model import should_go
from storage.accounts import UNREACHABLE

OVERDUE = frozenset({"temporary_expired", "phase_expired", "suspected_phase_expired"})
TOP_N = 3


@dataclass(frozen=True)
class SupervisorFigures:
    """The numbers of one supervisor digest, kept apart from the text so tests can check them."""

    enrolled: int
    active: int
    labels: dict[str, int]
    dissolved_week: int
    removed_week: int
    pending: int
    rooms: tuple[str, ...]


def supervisor_scope(world: World, unit: str) -> list[AuditRow]:
    units = world.subtree(unit)
    return [r for r in world.rows if world.room_unit(r) in units]


def supervisor_figures(world: World, unit: str) -> SupervisorFigures:
    rows = supervisor_scope(world, unit)
    start = week_start(world.today, world.tz)
    labels: Counter[str] = Counter()
    for r in rows:
        if r.room.status == "active":
            labels.update({lb.code for lb in r.verdict.labels})

    def this_week(r: AuditRow, status: str) -> bool:
        return r.room.status == status and r.room.status_at is not None and r.room.status_at >= start

    ids = {r.room.id for r in rows}
    return SupervisorFigures(
        enrolled=len(rows),
        active=sum(r.room.status == "active" for r in rows),
        labels={code: labels[code] for code in LABEL_CN if labels[code]},
        dissolved_week=sum(this_week(r, "dissolved") for r in rows),
        removed_week=sum(this_week(r, "removed") for r in rows),
        pending=sum(room_id in ids for room_id, _ in world.pending),
        rooms=tuple(sorted(ids)),
    )


def escalations(world: World, rows: Iterable[AuditRow]) -> list[AuditRow]:
    """Active groups that should still go after being named in two or more sent owner digests."""
    out = []
    for r in rows:
        if any(map(should_go, actionable(r))) and len(world.listed.get(r.room.id, ())) >= 2:
            out.append(r)
    return out


def digest_key(supervisor: str, period: str) -> str:
    return f"contact:{supervisor}|supervisor_digest|{period}"


def supervisor_digest(
    world: World, supervisor: str, campaigns: Sequence[CampaignCoverage] = ()
) -> OutgoingMessage | None:
    """The week's digest; `campaigns` are those covering the supervisor's unit, with its figures."""
    contact = world.contacts.get(supervisor)
    if contact is None or not contact.unit:
        return None
    unit = contact.unit
    period = iso_week(world.today)
    fig = supervisor_figures(world, unit)
    rows = supervisor_scope(world, unit)
    lines: list[str] = []
    add = lines.append
    monday = world.today - timedelta(days=world.today.weekday())
    header = (
        f"【清群督导周报】{unit}及下辖单位（{month_day(monday)}—{month_day(monday + timedelta(days=6))}）"
    )
    add(f"在册工作群 {fig.enrolled} 个，其中在用 {fig.active} 个。")
    if fig.labels:
        add("在用群标记：" + "，".join(f"{label_cn(c)} {n} 个" for c, n in fig.labels.items()) + "。")
    else:
        add("在用群均无问题标记。")
    add(f"本周已解散 {fig.dissolved_week} 个，机器人被移出 {fig.removed_week} 个。")
    if fig.pending:
        add(f"待审批申请 {fig.pending} 件。")
    for cov in campaigns:
        add(progress_text(cov, world.today))
    overdue: Counter[str] = Counter()
    for r in rows:
        if r.room.owner_id and any(lb.code in OVERDUE for lb in actionable(r)):
            overdue[r.room.owner_id] += 1
    if overdue:
        top = sorted(overdue.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
        add("逾期群较多的群主：" + "，".join(f"{world.name(o)} {n} 个" for o, n in top) + "。")
    units = world.subtree(unit)
    heavy = [
        b for b in world.burdens if (c := world.contacts.get(b.contact_id)) is not None and c.unit in units
    ][:TOP_N]
    if heavy:
        add(
            "身处群最多的人员："
            + "，".join(
                f"{world.name(b.contact_id)} {b.active_groups} 个（应清理 {b.flagged_groups} 个）"
                for b in heavy
            )
            + "。"
        )
    removed = [r for r in rows if r.room.status == "removed"]
    if removed:
        add(
            "机器人被移出但群仍在（可能规避清理）："
            + "，".join(f"「{r.room.topic}」（群主 {world.name(r.room.owner_id)}）" for r in removed)
            + "。"
        )
    esc = escalations(world, rows)
    if esc:
        add(
            "两次周报后仍未解散："
            + "，".join(f"{world.name(r.room.owner_id)}「{r.room.topic}」" for r in esc)
            + "，请督促。"
        )
    ids = set(fig.rooms)

    def mine(rcpt: str | None, room: str | None) -> bool:
        contact = world.contacts.get(rcpt or "")
        return room in ids or (contact is not None and contact.unit in units)

    failed = [(rcpt, room, err) for rcpt, room, err in world.failed if mine(rcpt, room)]
    if failed:
        who = "，".join(
            f"{world.name(rcpt) if rcpt else '群「' + _topic(world, room) + '」'}（{_reason(err, rcpt)}）"
            for rcpt, room, err in failed[:5]
        )
        add(f"近两周发送失败 {len(failed)} 条：{who}。")
    if world.is_root(unit):  # the fleet serves the whole tree: its top answers for adding accounts
        for a in world.accounts:
            if a.near_limit:
                add(wording.account_near_limit_digest(label=a.label, rooms=a.rooms, room_limit=a.room_limit))
    gap = calendar_gap(world.today)
    if gap is not None:
        add(
            f"节假日数据只到 {(gap - timedelta(days=1)).isoformat()}，之后暂按周一至周五计算工作日，"
            "请更新节假日数据。"
        )
    body = [header] + [f"{i}. {line}" for i, line in enumerate(lines, 1)]
    body.append(SUPERVISOR_FOOTER)
    return OutgoingMessage(
        dedupe_key=digest_key(supervisor, period),
        text="\n".join(body),
        kind="supervisor_digest",
        period=period,
        recipient_id=supervisor,
    )


def _reason(err: str, recipient: str | None) -> str:
    if err == UNREACHABLE:  # reads badly in parentheses: say who could not be reached
        return wording.UNREACHABLE_CONTACT if recipient else wording.UNREACHABLE_ROOM
    return err or "原因不明"


def _topic(world: World, room_id: str | None) -> str:
    for r in world.rows:
        if r.room.id == room_id:
            return r.room.topic
    return room_id or ""


def supervisors(world: World) -> list[str]:
    return sorted(c.id for c in world.contacts.values() if c.role == "supervisor" and c.unit)
