"""Commands an owner sends in the group (@bot): register, extend, status."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot.commands.approvals import open_move, open_request, request_unit, withdraw
from bot.commands.kit import (
    Ctx,
    Refusal,
    Reply,
    audit_rows,
    clip,
    free_text,
    kind_text,
    labels_text,
    parse_end_date,
    short,
    take_unit,
)
from bot.core.dates import format_date_cn
from bot.core.domain import OutgoingMessage
from bot.core.wording import (
    EXAMPLE_DATE,
    EXTEND_EXAMPLE,
    KIND_CN,
    KIND_SHORT,
    KIND_WORDS,
    REGISTER,
    REGISTER_EXAMPLE,
    REGISTER_STANDING_EXAMPLE,
    REQUEST_CN,
)
from storage import activity as activity_db
from storage import approvals as approvals_db
from storage import eventlog as eventlog_db
from storage import history
from storage.models import Room

EXTENSIONS_BEFORE_APPROVAL = 2  # the third extension needs approval


def register(ctx: Ctx, args: list[str]) -> Reply:
    room = ctx.need_room()
    history.record_room(ctx.session, room=room, at=ctx.now)
    if not args:
        raise Refusal("missing_kind", f"缺少群类型（常设、临时或阶段性）。正确写法：{REGISTER_EXAMPLE}")
    kind = KIND_WORDS.get(args[0])
    if kind is None:
        raise Refusal(
            "bad_kind",
            f"群类型不对，应为 常设、临时 或 阶段性。正确写法：{REGISTER_EXAMPLE}",
        )
    example = REGISTER_STANDING_EXAMPLE if kind == "standing" else REGISTER_EXAMPLE
    rest, unit = take_unit(ctx, args[1:], example)
    end: date | None = None
    if kind != "standing":
        end, used = parse_end_date(ctx, rest, f"{REGISTER} {KIND_SHORT[kind]} {EXAMPLE_DATE} 用途")
        rest = rest[used:]
    purpose = free_text(rest, "用途", example)
    logged: dict[str, Any] = {
        "kind": kind,
        "end_date": end.isoformat() if end else None,
        "unit": unit,
        "purpose_given": bool(purpose),
    }
    was_kind, was_end = room.kind, room.end_date
    timed = ("temporary", "phase")
    if was_kind in timed and kind in timed and was_end is not None and end is not None and end > was_end:
        raise Refusal(
            "use_extend",
            f"本群已登记，截止 {format_date_cn(was_end)}。推迟截止日期请发送：{EXTEND_EXAMPLE}",
            logged,
        )
    current = request_unit(ctx.session, room)
    room.unit = current
    logged["unit"] = current
    extra, notices = _move(ctx, room, unit, logged)
    if end is not None:
        past_limit = _past_limit(ctx, room, kind, end, logged)
        if past_limit is not None:
            past_limit.notices += notices
            past_limit.text += extra
            return past_limit
    room.purpose = purpose or room.purpose
    unit_text = f"，单位 {current}" if current else ""
    purpose_text = f"，用途 {short(room.purpose, 20)}" if room.purpose else ""
    room.registered_by, room.registered_at = ctx.talker, ctx.now
    if kind == "standing":
        already = room.kind == "standing" and room.approved
        # The original end date and the extension count survive: a detour through 常设 must not
        # reset the extension limit.
        room.kind, room.end_date = "standing", None
        extra = withdraw(ctx, room, "extend") + extra
        if already:
            return Reply(
                f"已更新：常设群{unit_text}{purpose_text}。{extra}", args=logged, notices=notices
            )
        room.approved = False
        pending = approvals_db.pending_for_room(ctx.session, room_id=room.id, kind="standing")
        if pending:
            req = pending[0]
        else:
            req, opened = open_request(
                ctx, room, "standing", {"prev": {"kind": was_kind, "end_date": was_end}}
            )
            notices = opened + notices
        logged["request_id"] = req.id
        return Reply(
            f"已提交：常设群登记{unit_text}{purpose_text}。常设群需督导审批（申请 #{req.id}），"
            f"审批前本群显示为“待审批”。{extra}",
            outcome="pending",
            args=logged,
            notices=notices,
        )
    assert end is not None
    if room.original_end_date is not None:
        room.original_end_date = min(room.original_end_date, end)
    else:
        room.original_end_date, room.extension_count = end, 0
    room.kind, room.end_date, room.approved = kind, end, False
    extra = withdraw(ctx, room, "standing") + extra
    eventlog_db.log_event(
        ctx.session,
        kind="registered",
        at=ctx.now,
        room_id=room.id,
        actor_id=ctx.talker,
        detail={"kind": kind, "end_date": end.isoformat()},
    )
    return Reply(
        f"已登记：{KIND_CN[kind]}，截止 {format_date_cn(end)}{unit_text}{purpose_text}。"
        f"到期后请及时解散本群。{extra}",
        args=logged,
        notices=notices,
    )


def _move(
    ctx: Ctx, room: Room, unit: str | None, logged: dict[str, Any]
) -> tuple[str, list[OutgoingMessage]]:
    """`单位 X` naming another unit than the group's: a request to the current unit's supervisors."""
    current = room.unit
    if unit is None or unit == current:
        return "", []
    notices: list[OutgoingMessage] = []
    pending = approvals_db.pending_for_room(ctx.session, room_id=room.id, kind="move")
    if pending and approvals_db.request_payload(pending[0]).get("to") != unit:
        raise Refusal(
            "already_pending",
            f"本群已有变更单位申请 #{pending[0].id} 在等待督导审批，请等审批结果。",
            logged,
        )
    if pending:
        req = pending[0]
    else:
        req, notices = open_move(ctx, room, unit)
    logged["move_to"], logged["move_request_id"] = unit, req.id
    where = f"“{current}”或上级单位的督导" if current else "上级督导"
    return (
        f"单位改为 {unit} 须经{where}审批（申请 #{req.id}），审批前本群仍归{current or '未定单位'}。",
        notices,
    )


def _past_limit(ctx: Ctx, room: Room, kind: str, end: date, logged: dict[str, Any]) -> Reply | None:
    """A registration ending past the extension limit goes through the same approval as 延期."""
    original = room.original_end_date
    if original is None:
        return None
    days = ctx.services.settings.max_extension_days
    allowed = max(original + timedelta(days=days), room.end_date or original)
    if end <= allowed:
        return None
    why = f"超过原截止日期 {original.isoformat()} {days} 天"
    pending = [
        r
        for r in approvals_db.pending_for_room(ctx.session, room_id=room.id)
        if r.kind in ("standing", "extend")
    ]
    if pending:
        # While a request waits, a new registration must not reach past the limit on its own.
        asked = "、".join(f"{REQUEST_CN.get(r.kind, r.kind)} #{r.id}" for r in pending)
        raise Refusal(
            "pending_past_limit",
            f"截止日期 {format_date_cn(end)} {why}，需督导审批；"
            f"本群已有申请（{asked}）在等待审批，请等审批结果后再登记。",
            logged,
        )
    old = room.end_date or original
    req, notices = open_request(
        ctx,
        room,
        "extend",
        {"new_end_date": end.isoformat(), "old_end_date": old.isoformat(), "kind": kind, "reason": None},
    )
    logged["request_id"] = req.id
    return Reply(
        f"登记申请已提交（#{req.id}）：{KIND_CN[kind]}，截止 {format_date_cn(end)}，因{why}需督导审批；"
        f"审批前本群登记不变（{kind_text(room)}）。",
        outcome="pending",
        args=logged,
        notices=notices,
    )


def extend(ctx: Ctx, args: list[str]) -> Reply:
    room = ctx.need_room()
    history.record_room(ctx.session, room=room, at=ctx.now)
    if room.kind is None:
        raise Refusal("not_registered", f"本群还没有登记，请先发送：{REGISTER_EXAMPLE}")
    if room.kind == "standing" or room.end_date is None:
        raise Refusal("not_extendable", "本群是常设群，没有截止日期，无需延期。")
    value, used = parse_end_date(ctx, args, EXTEND_EXAMPLE)
    reason = free_text(args[used:], "理由", EXTEND_EXAMPLE)
    logged: dict[str, Any] = {"end_date": value.isoformat(), "reason_given": bool(reason)}
    if value <= room.end_date:
        raise Refusal(
            "not_later",
            f"新截止日期 {format_date_cn(value)} 须晚于当前截止 {format_date_cn(room.end_date)}。"
            f"正确写法：{EXTEND_EXAMPLE}",
            logged,
        )
    if approvals_db.pending_for_room(ctx.session, room_id=room.id, kind="extend"):
        raise Refusal("already_pending", "本群已有一个延期申请在等待督导审批，请等审批结果。", logged)
    original = room.original_end_date or room.end_date
    limit = ctx.services.settings.max_extension_days
    why = []
    if (value - original).days > limit:
        why.append(f"超过原截止日期 {original.isoformat()} {limit} 天")
    if room.extension_count + 1 > EXTENSIONS_BEFORE_APPROVAL:
        why.append(f"第 {room.extension_count + 1} 次延期")
    if why:
        req, notices = open_request(
            ctx,
            room,
            "extend",
            {"new_end_date": value.isoformat(), "old_end_date": room.end_date.isoformat(), "reason": reason},
        )
        logged["request_id"] = req.id
        return Reply(
            f"延期申请已提交（#{req.id}）：截止改为 {format_date_cn(value)}，因{'、'.join(why)}需督导审批；"
            f"审批前截止日期仍为 {format_date_cn(room.end_date)}。",
            outcome="pending",
            args=logged,
            notices=notices,
        )
    old = room.end_date
    room.end_date, room.extension_count = value, room.extension_count + 1
    eventlog_db.log_event(
        ctx.session,
        kind="extended",
        at=ctx.now,
        room_id=room.id,
        actor_id=ctx.talker,
        detail={"from": old.isoformat(), "to": value.isoformat(), "count": room.extension_count},
    )
    return Reply(
        f"已延期：{KIND_CN.get(room.kind, '')}，截止 {format_date_cn(value)}"
        f"（第 {room.extension_count} 次延期）。",
        args=logged,
    )


def status(ctx: Ctx, args: list[str]) -> Reply:
    room = ctx.need_room()
    row = audit_rows(ctx, [room.id]).get(room.id)
    first = ctx.today.replace(day=1)
    month = activity_db.messages_between(ctx.session, room_id=room.id, first=first, last=ctx.today)
    pending = approvals_db.pending_for_room(ctx.session, room_id=room.id)
    parts = [f"「{short(room.topic, 20)}」{kind_text(room)}"]
    if room.unit:
        parts.append(f"单位：{room.unit}")
    if pending:
        parts.append("待审批：" + "、".join(f"{REQUEST_CN.get(r.kind, r.kind)} #{r.id}" for r in pending))
    parts.append(f"本月消息 {month} 条")
    labels = row.verdict.labels if row is not None else ()
    head = "\n".join(parts)
    body = "标签：" + labels_text(labels, with_reason=True)
    return Reply(clip(head + "\n" + body), args={"labels": [lb.code for lb in labels]})
