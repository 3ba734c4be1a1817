"""Digests and reminders: compose the texts (pure functions) and queue them in the outbox.

Jobs take `now` and decide by the statutory calendar whether today is their day:

* owner digest — weekly, on the first working day of the ISO week (adjusted working days count,
  holidays do not): every owner whose active groups carry a dissolve/merge/register/review action
  gets one numbered list. Owners with nothing to act on get nothing.
* supervisor digest — weekly, on the last working day of the ISO week, for the supervisor's unit
  and all units below it.
* ending-soon reminder — on the working day that falls `reminder_days_before` (3) calendar days
  before a registered end date; when that day is not a working day, the last working day before it.
  A reminder missed (bot down) is still sent on a later working day up to the end date.
* expiry notice — on the first working day after the end date (or within two working days after,
  if that day was missed).

Each message has a dedupe key `recipient|kind|period`, so running a job twice — after a restart or
on two instances — queues nothing new. Owners who are friends of the bot get a private message;
otherwise the bot @mentions the owner once in the group concerned (one message per group, with
only that group's line), never @所有人.

Policies are evaluated "as of" the local date, exactly like `qingqun audit --at DATE`, so the
numbers in a digest match the ledger for that date.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy.engine import Engine

from bot.audit import AuditRow, as_of, run_audit
from bot.domain import OutgoingMessage
from policies import workcal
from policies.model import Burden, Label
from storage import repo
from storage.db import session_scope
from storage.models import Contact

if TYPE_CHECKING:
    from bot.services import App
    from policies.rules import Rules

ACTIONABLE = ("dissolve", "merge", "register", "review")
OVERDUE = frozenset({"temporary_expired", "phase_expired", "suspected_phase_expired"})
LABEL_CN = {
    "temporary_expired": "临时群到期未解散",
    "phase_expired": "阶段性群到期未解散",
    "suspected_phase_expired": "疑似任务已结束",
    "idle": "僵尸群",
    "duplicate": "重复群",
    "unregistered": "未登记",
    "ownerless": "群主缺失",
    "ending_soon": "即将到期",
    "after_hours": "工作时间外消息多",
    "mention_all_heavy": "频繁@所有人",
}
KIND_CN = {"temporary": "临时群", "phase": "阶段性群", "standing": "常设群"}
STATUS_CN = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败"}
# How to answer (bot/commands.py): 延期 is said in the group with @bot; 保留/已解散 privately, with
# the group's number from "我的群".
OWNER_FOOTER = '回复"延期 …""保留 … 理由"或解散后回复"已解散 …"（延期请在群里@我；编号私聊发"我的群"查看）'
SUPERVISOR_FOOTER = (
    '回复"待审批"查看申请，"批准 …"或"驳回 … 理由"处理；'
    '群主可回复"延期 …""保留 … 理由"或解散后回复"已解散 …"'
)

TOP_N = 3
CALENDAR_LOOKAHEAD_DAYS = 30
DIGEST_LISTED = "digest_listed"  # EventLog kind: which rooms a queued owner digest named

_calendar_warned = False


# ---------------------------------------------------------------- periods and calendar


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def is_first_workday_of_week(day: date) -> bool:
    days = workcal.week_workdays(day)
    return bool(days) and days[0] == day


def is_last_workday_of_week(day: date) -> bool:
    days = workcal.week_workdays(day)
    return bool(days) and days[-1] == day


def reminder_day(end: date, days_before: int) -> date:
    """The working day `days_before` calendar days before `end`, or the last working day before that."""
    day = end - timedelta(days=days_before)
    while not workcal.is_workday(day):
        day -= timedelta(days=1)
    return day


def expiry_day(end: date) -> date:
    """The first working day after the (inclusive) end date."""
    day = end + timedelta(days=1)
    while not workcal.is_workday(day):
        day += timedelta(days=1)
    return day


def calendar_gap(today: date, days: int = CALENDAR_LOOKAHEAD_DAYS) -> date | None:
    """The first of the coming `days` dates the holiday data does not know, if any."""
    for i in range(days + 1):
        day = today + timedelta(days=i)
        if not workcal.covers(day):
            return day
    return None


def warn_calendar_gap(today: date) -> date | None:
    """Log once per process when the holiday data runs out within the look-ahead window."""
    global _calendar_warned
    gap = calendar_gap(today)
    if gap is not None and not _calendar_warned:
        _calendar_warned = True
        logger.warning(
            "holiday calendar has no data from {} on; working days fall back to Monday-Friday "
            "(update chinese-calendar)",
            gap.isoformat(),
        )
    return gap


def _md(day: date) -> str:
    return f"{day.month}月{day.day}日"


# ---------------------------------------------------------------- the world a digest is made from


@dataclass
class World:
    """Everything digests read, loaded in a handful of queries."""

    now: datetime
    today: date
    tz: ZoneInfo
    rows: list[AuditRow]
    burdens: list[Burden]
    contacts: dict[str, Contact]
    units: dict[str, str | None]  # unit -> parent
    pending: list[tuple[str, str]]  # (room_id, kind) of approval requests waiting
    failed: list[tuple[str | None, str | None, str]]  # (recipient_id, room_id, error) this week
    listed: dict[str, set[str]] = field(default_factory=dict)  # room -> periods of sent owner digests

    def name(self, contact_id: str | None) -> str:
        if contact_id is None:
            return "（未知）"
        c = self.contacts.get(contact_id)
        return c.name if c is not None and c.name else contact_id

    def subtree(self, root: str) -> set[str]:
        return repo.subtree_of(self.units, root)

    def room_unit(self, row: AuditRow) -> str | None:
        """The registered unit, else the owner's unit."""
        if row.room.unit:
            return row.room.unit
        owner = self.contacts.get(row.room.owner_id or "")
        return owner.unit if owner is not None else None


def week_start(today: date, tz: ZoneInfo) -> datetime:
    monday = today - timedelta(days=today.weekday())
    return datetime.combine(monday, datetime.min.time(), tzinfo=tz)


def load_world(engine: Engine, rules: Rules, now: datetime, tz: ZoneInfo) -> World:
    today = now.astimezone(tz).date()
    rows, burdens = run_audit(engine, rules, as_of(today, tz), tz)
    since = week_start(today, tz) - timedelta(days=7)
    with session_scope(engine) as s:
        contacts = repo.contacts(s)
        units = {u.name: u.parent for u in repo.all_units(s)}
        pending = [(a.room_id, a.kind) for a in repo.pending_approvals(s)]
        failed = [
            (o.recipient_id, o.room_id, o.error or "") for o in repo.failed_outbox_since(s, since=since)
        ]
        # Digests queued up to now (a preview of an earlier date must not count later ones).
        events = [e for e in repo.events_of_kind(s, kind=DIGEST_LISTED) if e.at is None or e.at <= now]
        keys = [_detail(e.detail).get("key", "") for e in events]
        status = repo.outbox_status_by_key(s, keys=keys)
    listed: dict[str, set[str]] = defaultdict(set)
    for e, key in zip(events, keys, strict=True):
        if status.get(key) == "sent":
            for room_id in _subjects(e.subjects):
                listed[room_id].add(_detail(e.detail).get("period", ""))
    return World(now, today, tz, rows, burdens, contacts, units, pending, failed, dict(listed))


def _detail(raw: str) -> dict[str, str]:
    import json

    value = json.loads(raw or "{}")
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _subjects(raw: str) -> list[str]:
    import json

    value = json.loads(raw or "[]")
    return [str(v) for v in value] if isinstance(value, list) else []


# ---------------------------------------------------------------- composing (pure)


def actionable(row: AuditRow) -> list[Label]:
    """The labels an owner must act on, in the engine's order (most specific first)."""
    if row.room.status != "active":
        return []
    return [lb for lb in row.verdict.labels if lb.action in ACTIONABLE]


def _severity(labels: Sequence[Label]) -> int:
    return min(ACTIONABLE.index(lb.action) for lb in labels)


def _item(row: AuditRow, labels: Sequence[Label]) -> str:
    return f"「{row.room.topic}」：" + "；".join(lb.reason for lb in labels)


def _private_or_room(world: World, owner: str) -> bool:
    contact = world.contacts.get(owner)
    return contact is None or contact.friend


@dataclass(frozen=True)
class Digest:
    """One message to queue, plus the rooms it asks to dissolve (for escalation tracking)."""

    message: OutgoingMessage
    dissolve_rooms: tuple[str, ...] = ()


def _recipient(owner: str, room_id: str | None) -> str:
    return f"contact:{owner}" if room_id is None else f"room:{room_id}@{owner}"


def owner_digests(world: World, only: str | None = None) -> list[Digest]:
    """The weekly owner digests: only owners with something to act on, one list each."""
    period = iso_week(world.today)
    items: dict[str, list[tuple[AuditRow, list[Label]]]] = defaultdict(list)
    for row in world.rows:
        owner = row.room.owner_id
        labels = actionable(row)
        if owner and labels and (only is None or owner == only):
            items[owner].append((row, labels))
    out: list[Digest] = []
    for owner in sorted(items):
        entries = sorted(items[owner], key=lambda e: (_severity(e[1]), e[0].room.topic))
        if _private_or_room(world, owner):
            lines = [f"【清群周报】{world.name(owner)}您好，您是群主的以下 {len(entries)} 个工作群需要处理："]
            lines += [f"{i}. {_item(row, labels)}" for i, (row, labels) in enumerate(entries, 1)]
            lines.append(OWNER_FOOTER)
            out.append(
                Digest(
                    OutgoingMessage(
                        dedupe_key=f"{_recipient(owner, None)}|owner_digest|{period}",
                        text="\n".join(lines),
                        kind="owner_digest",
                        period=period,
                        recipient_id=owner,
                    ),
                    tuple(r.room.id for r, lbs in entries if any(lb.action == "dissolve" for lb in lbs)),
                )
            )
            continue
        # Not a friend: one @mention in each group concerned, naming only that group.
        for row, labels in entries:
            text = f"【清群周报】本群{_item(row, labels)}\n{OWNER_FOOTER}"
            out.append(
                Digest(
                    OutgoingMessage(
                        dedupe_key=f"{_recipient(owner, row.room.id)}|owner_digest|{period}",
                        text=text,
                        kind="owner_digest",
                        period=period,
                        room_id=row.room.id,
                        mentions=(owner,),
                    ),
                    (row.room.id,) if any(lb.action == "dissolve" for lb in labels) else (),
                )
            )
    return out


def _reminder(world: World, row: AuditRow, kind: str, text: str) -> OutgoingMessage:
    owner = row.room.owner_id or ""
    room_id = None if _private_or_room(world, owner) else row.room.id
    period = f"{row.room.id}@{row.room.end_date.isoformat() if row.room.end_date else ''}"
    return OutgoingMessage(
        dedupe_key=f"{_recipient(owner, room_id)}|{kind}|{period}",
        text=text,
        kind=kind,
        period=period,
        recipient_id=owner if room_id is None else None,
        room_id=room_id,
        mentions=(owner,) if room_id is not None else (),
    )


def reminders(world: World, days_before: int) -> list[OutgoingMessage]:
    """Ending-soon reminders and expiry notices due today (with a short catch-up window)."""
    today = world.today
    if not workcal.is_workday(today):
        return []
    out: list[OutgoingMessage] = []
    for row in world.rows:
        room = row.room
        if room.status != "active" or not room.owner_id or room.end_date is None:
            continue
        if room.kind not in ("temporary", "phase"):
            continue
        end = room.end_date
        kind_cn = KIND_CN[room.kind]
        where = "您登记的" if _private_or_room(world, room.owner_id) else "本群为"
        if reminder_day(end, days_before) <= today <= end:
            left = (end - today).days
            when = "今天到期" if left == 0 else f"将于 {end.isoformat()}（{_md(end)}）到期，还有 {left} 天"
            text = (
                f"【清群提醒】{where}{kind_cn}「{room.topic}」{when}。"
                f"到期后请解散；如需继续使用请申请延期。\n{OWNER_FOOTER}"
            )
            out.append(_reminder(world, row, "ending_soon", text))
        first = expiry_day(end)
        if first <= today <= workcal.add_workdays(first, 2):
            text = (
                f"【清群提醒】{where}{kind_cn}「{room.topic}」已于 {end.isoformat()}（{_md(end)}）到期，"
                f"请解散，或说明理由申请保留。\n{OWNER_FOOTER}"
            )
            out.append(_reminder(world, row, "expiry_notice", text))
    return out


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
    """Active groups still labelled dissolve after being named in two or more sent owner digests."""
    out = []
    for r in rows:
        if any(lb.action == "dissolve" for lb in actionable(r)) and len(world.listed.get(r.room.id, ())) >= 2:
            out.append(r)
    return out


def supervisor_digest(world: World, supervisor: str) -> OutgoingMessage | None:
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
        f"【清群督导周报】{unit}及下辖单位（{_md(monday)}—{_md(monday + timedelta(days=6))}）"
    )
    add(f"在册工作群 {fig.enrolled} 个，其中在用 {fig.active} 个。")
    if fig.labels:
        add("在用群标记：" + "，".join(f"{LABEL_CN[c]} {n} 个" for c, n in fig.labels.items()) + "。")
    else:
        add("在用群均无问题标记。")
    add(f"本周已解散 {fig.dissolved_week} 个，机器人被移出 {fig.removed_week} 个。")
    if fig.pending:
        add(f"待审批申请 {fig.pending} 件。")
    overdue: Counter[str] = Counter()
    for r in rows:
        if r.room.owner_id and any(lb.code in OVERDUE for lb in actionable(r)):
            overdue[r.room.owner_id] += 1
    if overdue:
        top = sorted(overdue.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
        add("逾期群较多的群主：" + "，".join(f"{world.name(o)} {n} 个" for o, n in top) + "。")
    units = world.subtree(unit)
    heavy = [
        b for b in world.burdens
        if (c := world.contacts.get(b.contact_id)) is not None and c.unit in units
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
            f"{world.name(rcpt) if rcpt else '群「' + _topic(world, room) + '」'}（{err or '原因不明'}）"
            for rcpt, room, err in failed[:5]
        )
        add(f"近两周发送失败 {len(failed)} 条：{who}。")
    gap = calendar_gap(world.today)
    if gap is not None:
        add(
            f"节假日数据只到 {(gap - timedelta(days=1)).isoformat()}，之后暂按周一至周五计算工作日，"
            "请更新节假日数据。"
        )
    body = [header] + [f"{i}. {line}" for i, line in enumerate(lines, 1)]
    body.append(SUPERVISOR_FOOTER)
    return OutgoingMessage(
        dedupe_key=f"contact:{supervisor}|supervisor_digest|{period}",
        text="\n".join(body),
        kind="supervisor_digest",
        period=period,
        recipient_id=supervisor,
    )


def _topic(world: World, room_id: str | None) -> str:
    for r in world.rows:
        if r.room.id == room_id:
            return r.room.topic
    return room_id or ""


def supervisors(world: World) -> list[str]:
    return sorted(c.id for c in world.contacts.values() if c.role == "supervisor" and c.unit)


# ---------------------------------------------------------------- jobs (take `now`, queue in the outbox)

def _queue(app: App, digests: Sequence[Digest], now: datetime) -> int:
    """Queue in one transaction; log which rooms each new owner digest asks to dissolve."""
    added = 0
    with session_scope(app.engine) as s:
        for d in digests:
            if app.outbox.enqueue(d.message, session=s):
                added += 1
                if d.message.kind == "owner_digest":
                    repo.log_event(
                        s,
                        kind=DIGEST_LISTED,
                        at=now,
                        actor_id=(d.message.mentions or (d.message.recipient_id,))[0],
                        subjects=d.dissolve_rooms,
                        detail={"key": d.message.dedupe_key, "period": d.message.period},
                    )
    return added


def owner_digest_job(app: App, now: datetime, force: bool = False) -> int:
    """Weekly owner digests; runs only on the first working day of the ISO week (unless forced)."""
    tz = app.settings.tz
    today = now.astimezone(tz).date()
    warn_calendar_gap(today)
    if not force and not is_first_workday_of_week(today):
        return 0
    world = load_world(app.engine, app.rules, now, tz)
    n = _queue(app, owner_digests(world), now)
    logger.info("owner digests for {}: {} queued", iso_week(today), n)
    return n


def supervisor_digest_job(app: App, now: datetime, force: bool = False) -> int:
    """Weekly supervisor digests; runs only on the last working day of the ISO week (unless forced)."""
    tz = app.settings.tz
    today = now.astimezone(tz).date()
    warn_calendar_gap(today)
    if not force and not is_last_workday_of_week(today):
        return 0
    world = load_world(app.engine, app.rules, now, tz)
    msgs = [m for m in (supervisor_digest(world, sid) for sid in supervisors(world)) if m is not None]
    n = _queue(app, [Digest(m) for m in msgs], now)
    logger.info("supervisor digests for {}: {} queued", iso_week(today), n)
    return n


def reminder_job(app: App, now: datetime) -> int:
    """Daily: ending-soon reminders and expiry notices that are due today."""
    tz = app.settings.tz
    today = now.astimezone(tz).date()
    warn_calendar_gap(today)
    if not workcal.is_workday(today):
        return 0
    world = load_world(app.engine, app.rules, now, tz)
    n = _queue(app, [Digest(m) for m in reminders(world, app.settings.reminder_days_before)], now)
    if n:
        logger.info("reminders on {}: {} queued", today.isoformat(), n)
    return n


# ---------------------------------------------------------------- preview


def preview(
    app: App, now: datetime, owner: str | None = None, supervisor: str | None = None
) -> list[OutgoingMessage]:
    """What the digests for `now`'s date would contain, without queueing anything."""
    world = load_world(app.engine, app.rules, now, app.settings.tz)
    out: list[OutgoingMessage] = []
    if supervisor is None:
        out += [d.message for d in owner_digests(world, only=owner)]
    if owner is None:
        sids = [supervisor] if supervisor else supervisors(world)
        out += [m for m in (supervisor_digest(world, s) for s in sids) if m is not None]
    return out


def format_preview(engine: Engine, msgs: Sequence[OutgoingMessage]) -> str:
    """Each message under a line saying where it goes, as the operator would read it."""
    with session_scope(engine) as s:
        contacts = repo.contacts(s)
        topics = {r.id: r.topic for r in repo.all_rooms(s)}

    def name(cid: str) -> str:
        c = contacts.get(cid)
        return f"{c.name}（{cid}）" if c is not None and c.name else cid

    parts = []
    for m in msgs:
        if m.room_id:
            where = f"群「{topics.get(m.room_id, m.room_id)}」，@" + "、".join(name(c) for c in m.mentions)
        else:
            where = f"{name(m.recipient_id or '')}，私聊"
        parts.append(f"—— {where} · {m.kind} {m.period} ——\n{m.text}\n")
    return "\n".join(parts)
