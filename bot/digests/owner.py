"""Owner digests and reminders: composed from a `World`, pure (no I/O).

* owner digest: weekly, on the first working day of the ISO week (adjusted working days count,
  holidays do not). Every owner whose active groups carry a dissolve/merge/register/review
  action gets one numbered list; owners with nothing to act on get nothing.
* ending-soon reminder: on the working day that falls `reminder_days_before` (3) calendar days
  before a registered end date; when that day is not a working day, the last working day before
  it. A reminder missed (bot down) is still sent on a later working day up to the end date.
* expiry notice: on the first working day after the end date (or within two working days after,
  if that day was missed).

Owners who are friends of the bot get a private message; otherwise the bot @mentions the owner
once in the group concerned (one message per group, with only that group's line), never @所有人.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.domain import OutgoingMessage
from bot.core.wording import KIND_CN, OWNER_FOOTER
from bot.digests.calendar import expiry_day, iso_week, month_day, reminder_day
from bot.digests.loading import World
from bot.services.audit import AuditRow
from policies import workcal
from policies.model import Label, should_go

ACTIONABLE = ("dissolve", "merge", "register", "review")


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
    """One message to queue, plus the rooms it asks to go (for escalation tracking)."""

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
                    tuple(r.room.id for r, lbs in entries if any(map(should_go, lbs))),
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
                    (row.room.id,) if any(map(should_go, labels)) else (),
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
            when = (
                "今天到期" if left == 0 else f"将于 {end.isoformat()}（{month_day(end)}）到期，还有 {left} 天"
            )
            text = (
                f"【清群提醒】{where}{kind_cn}「{room.topic}」{when}。"
                f"到期后请解散；如需继续使用请申请延期。\n{OWNER_FOOTER}"
            )
            out.append(_reminder(world, row, "ending_soon", text))
        first = expiry_day(end)
        if first <= today <= workcal.add_workdays(first, 2):
            text = (
                f"【清群提醒】{where}{kind_cn}「{room.topic}」"
                f"已于 {end.isoformat()}（{month_day(end)}）到期，"
                f"请解散，或说明理由申请保留。\n{OWNER_FOOTER}"
            )
            out.append(_reminder(world, row, "expiry_notice", text))
    return out
