"""Use cases behind the chat commands: register, extend, report, approve.

Each handler gets a `Ctx` (the app, the message, one open session, the room if any) and the
argument tokens, and either returns a `Reply` or raises `Refusal`. A refusal rolls the whole
session back, so bad input never changes storage; the dispatcher then logs it on its own.
Free text (purpose, reasons) is kept only where the workflow needs it: the room's declared
purpose and the approval request a supervisor reads. The command log holds parsed fields only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.dates import DateError, check_end_date, format_date_cn, parse_date, parse_leading_date
from bot.domain import ChatMessage, OutgoingMessage
from storage import history, repo
from storage import requests as rq
from storage.models import ApprovalRequest, Contact, Room

if TYPE_CHECKING:
    from bot.audit import AuditRow
    from bot.services import App

MAX_REPLY = 300
PAGE_SIZE = 5
MAX_FREE_TEXT = 50  # purpose / reason, in characters
EXTENSIONS_BEFORE_APPROVAL = 2  # the third extension needs approval

KIND_WORDS = {
    "常设": "standing", "常设群": "standing",
    "临时": "temporary", "临时群": "temporary",
    "阶段性": "phase", "阶段": "phase", "阶段性群": "phase",
}  # fmt: skip
KIND_CN = {"standing": "常设群", "temporary": "临时群", "phase": "阶段性群"}
KIND_SHORT = {"standing": "常设", "temporary": "临时", "phase": "阶段性"}
REQUEST_CN = {"standing": "常设群登记", "extend": "延期", "retain": "保留"}
LABEL_CN = {
    "temporary_expired": "临时群已到期",
    "phase_expired": "阶段已结束",
    "suspected_phase_expired": "疑似已结束",
    "idle": "僵尸群",
    "duplicate": "重复群",
    "unregistered": "未登记",
    "ownerless": "无群主",
    "ending_soon": "即将到期",
    "after_hours": "非工作时间消息多",
    "mention_all_heavy": "@所有人过多",
}
RETAINABLE_ACTIONS = frozenset({"dissolve", "merge", "review"})  # labels that ask for the group to go
EXAMPLE_DATE = "12月31日"  # always a valid, future-or-today date, whatever today is


class Refusal(Exception):
    """A command that cannot be carried out; `text` is the one reply, `code` goes to the log."""

    def __init__(self, code: str, text: str, args: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.text = text
        self.args_logged: dict[str, Any] = dict(args or {})


@dataclass
class Reply:
    text: str
    outcome: str = "ok"  # ok | pending
    args: dict[str, Any] = field(default_factory=dict)
    notices: list[OutgoingMessage] = field(default_factory=list)


@dataclass
class Ctx:
    app: App
    msg: ChatMessage
    session: Session
    now: datetime
    today: date
    tz: ZoneInfo
    room: Room | None = None

    @property
    def bot_name(self) -> str:
        return self.app.settings.bot_name

    @property
    def talker(self) -> str:
        return self.msg.talker_id

    def name(self, contact_id: str | None) -> str:
        return rq.contact_name(self.session, contact_id=contact_id)

    def need_room(self) -> Room:
        if self.room is None:  # dispatch guarantees a room for room commands
            raise Refusal("no_room", "请在群里@我发送这条指令。")
        return self.room


# ---------------------------------------------------------------- helpers


def clip(text: str, limit: int = MAX_REPLY) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short(text: str | None, limit: int = 14) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def audit_rows(ctx: Ctx) -> dict[str, AuditRow]:
    """Labels as of the message time. Call before writing in ctx.session (SQLite: one writer)."""
    from bot.audit import run_audit

    ctx.app.flush()  # count the messages still held in memory
    rows, _ = run_audit(ctx.app.engine, ctx.app.rules, ctx.now, ctx.tz)
    return {r.room.id: r for r in rows}



def parse_number(tokens: Sequence[str], what: str, example: str) -> int:
    """The first token as a positive list number ("2", "#2", "第2个", "2号")."""
    if not tokens:
        raise Refusal("missing_number", f"缺少{what}。正确写法：{example}")
    m = re.fullmatch(r"(?:第|#|No\.?)?(\d{1,6})(?:号|个)?", tokens[0])
    if m is None or int(m.group(1)) == 0:
        raise Refusal("bad_number", f"{what}须是数字。正确写法：{example}")
    return int(m.group(1))


def parse_page(tokens: Sequence[str], example: str) -> int:
    if not tokens:
        return 1
    if len(tokens) == 1 and tokens[0].isascii() and tokens[0].isdigit() and 0 < int(tokens[0]) < 10_000:
        return int(tokens[0])
    raise Refusal("bad_page", f"页码须是数字。正确写法：{example}")


def free_text(tokens: Sequence[str], what: str, example: str) -> str:
    text = " ".join(tokens)
    if len(text) > MAX_FREE_TEXT:
        raise Refusal("text_too_long", f"{what}请控制在 {MAX_FREE_TEXT} 字以内。例如：{example}")
    return text


def parse_end_date(ctx: Ctx, tokens: Sequence[str], example: str) -> tuple[date, int]:
    """A leading Chinese date, checked against today; returns (date, tokens consumed)."""
    if not tokens:
        raise Refusal("missing_date", f"缺少截止日期。正确写法：{example}")
    try:
        found = parse_leading_date(" ".join(tokens), today=ctx.today)
        if found is None:
            parse_date(tokens[0], today=ctx.today)  # raises the parser's explanation
            raise DateError("无法识别日期")
        check_end_date(found.value, today=ctx.today)
    except DateError as exc:
        why = str(exc)
        code = "past_date" if "过去" in why else "too_far" if "最晚" in why else "bad_date"
        # Do not echo what the user typed: replies are stored in the outbox.
        why = re.sub(r"“[^”]*”", "", why, count=1) if why.startswith("无法识别日期") else why
        raise Refusal(code, f"{why.rstrip('。')}。正确写法：{example}", {"error": code}) from None
    return found.value, found.consumed


def take_unit(ctx: Ctx, tokens: list[str], example: str) -> tuple[list[str], str | None]:
    """Remove `单位 <名称>` (or `单位:名称`) from the tokens; check the unit against the roster."""
    for i, tok in enumerate(tokens):
        if not tok.startswith("单位"):
            continue
        inline = tok[2:].lstrip(":：")
        if inline:
            name, rest = inline, tokens[:i] + tokens[i + 1 :]
        elif i + 1 < len(tokens):
            name, rest = tokens[i + 1], tokens[:i] + tokens[i + 2 :]
        else:
            raise Refusal("missing_unit", f"“单位”后面要写单位名称。例如：{example}")
        if rq.has_units(ctx.session) and rq.get_unit(ctx.session, name=name) is None:
            raise Refusal("unknown_unit", f"名册里没有这个单位，请核对单位全称。例如：{example}")
        return rest, name
    return tokens, None


def eligible_supervisors(session: Session, unit: str | None) -> list[Contact]:
    """Supervisors of the unit or an ancestor; a unit-less group falls to the top-level units."""
    sups = rq.supervisors(session)
    if unit is None:
        out = []
        for c in sups:
            u = rq.get_unit(session, name=c.unit) if c.unit else None
            if c.unit is None or (u is not None and u.parent is None):
                out.append(c)
        return out
    chain = set(rq.unit_chain(session, unit=unit))
    return [c for c in sups if c.unit in chain]


def can_approve(session: Session, supervisor_id: str, unit: str | None) -> bool:
    return any(c.id == supervisor_id for c in eligible_supervisors(session, unit))


def who_approves(session: Session, unit: str | None) -> str:
    names = [c.name or c.id for c in eligible_supervisors(session, unit)][:3]
    where = f"“{unit}”或上级单位的督导" if unit else "上级督导"
    return where + (f"（{'、'.join(names)}）" if names else "")


def request_unit(session: Session, room: Room) -> str | None:
    if room.unit:
        return room.unit
    owner = rq.get_contact(session, contact_id=room.owner_id)
    return owner.unit if owner is not None else None


def request_summary(session: Session, req: ApprovalRequest) -> str:
    """One line a supervisor can act on."""
    p = rq.request_payload(req)
    room = repo.get_room(session, room_id=req.room_id)
    topic = short(room.topic if room else req.room_id)
    who = rq.contact_name(session, contact_id=req.requested_by)
    if req.kind == "extend":
        what = f"延期至 {p.get('new_end_date', '?')}（原 {p.get('old_end_date', '?')}）"
    elif req.kind == "retain":
        labels = "、".join(LABEL_CN.get(str(c), str(c)) for c in p.get("labels", []))
        what = f"申请保留（{labels}）"
    else:
        what = "常设群登记"
    reason = p.get("reason")
    return f"#{req.id}「{topic}」{what}｜{who}" + (f"｜理由：{short(str(reason), 20)}" if reason else "")


def open_request(
    ctx: Ctx, room: Room, kind: str, payload: dict[str, Any]
) -> tuple[ApprovalRequest, list[OutgoingMessage]]:
    """Create a pending request and a private notice for each eligible supervisor."""
    unit = request_unit(ctx.session, room)
    req = rq.create_request(
        ctx.session,
        room_id=room.id,
        kind=kind,
        requested_by=ctx.talker,
        at=ctx.now,
        payload={**payload, "unit": unit},
    )
    notices = []
    line = request_summary(ctx.session, req)
    for sup in eligible_supervisors(ctx.session, unit):
        if not sup.friend or sup.id == ctx.talker:
            continue
        notices.append(
            OutgoingMessage(
                dedupe_key=f"approval|{req.id}|{sup.id}",
                text=clip(f"待审批 {line}。回复“批准 {req.id}”或“驳回 {req.id} 理由”。"),
                kind="approval_notice",
                period=ctx.today.isoformat(),
                recipient_id=sup.id,
            )
        )
    return req, notices


def withdraw(ctx: Ctx, room: Room, kind: str) -> None:
    for req in rq.pending_for_room(ctx.session, room_id=room.id, kind=kind):
        rq.decide_request(ctx.session, req=req, status="withdrawn", by=ctx.talker, at=ctx.now, reason=None)


def _labels_text(labels: Sequence[Any], with_reason: bool) -> str:
    if not labels:
        return "无"
    if with_reason:
        return "；".join(f"{LABEL_CN.get(lb.code, lb.code)}：{lb.reason}" for lb in labels)
    return "、".join(LABEL_CN.get(lb.code, lb.code) for lb in labels)


def _kind_text(room: Room) -> str:
    if room.kind is None:
        return "未登记"
    text = KIND_CN.get(room.kind, room.kind)
    if room.end_date is not None:
        text += f"，截止 {format_date_cn(room.end_date)}"
    if room.extension_count:
        text += f"（已延期 {room.extension_count} 次）"
    return text


# ---------------------------------------------------------------- room commands

REGISTER_EXAMPLE = f"登记 临时 {EXAMPLE_DATE} 征兵体检"
EXTEND_EXAMPLE = "延期 1月15日 体检推迟"


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
    example = "登记 常设 单位 黑龙潭镇 党建工作" if kind == "standing" else REGISTER_EXAMPLE
    rest, unit = take_unit(ctx, args[1:], example)
    end: date | None = None
    if kind != "standing":
        end, used = parse_end_date(ctx, rest, f"登记 {KIND_SHORT[kind]} {EXAMPLE_DATE} 用途")
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
    owner = rq.get_contact(ctx.session, contact_id=room.owner_id)
    me = rq.get_contact(ctx.session, contact_id=ctx.talker)
    room.unit = unit or room.unit or (owner.unit if owner else None) or (me.unit if me else None)
    room.purpose = purpose or room.purpose
    room.registered_by, room.registered_at = ctx.talker, ctx.now
    logged["unit"] = room.unit
    unit_text = f"，单位 {room.unit}" if room.unit else ""
    purpose_text = f"，用途 {short(room.purpose, 20)}" if room.purpose else ""
    if kind == "standing":
        already = room.kind == "standing" and room.approved
        room.kind, room.end_date, room.original_end_date, room.extension_count = "standing", None, None, 0
        withdraw(ctx, room, "extend")
        if already:
            return Reply(f"已更新：常设群{unit_text}{purpose_text}。", args=logged)
        room.approved = False
        notices: list[OutgoingMessage] = []
        pending = rq.pending_for_room(ctx.session, room_id=room.id, kind="standing")
        if pending:
            req = pending[0]
        else:
            req, notices = open_request(
                ctx, room, "standing", {"prev": {"kind": was_kind, "end_date": was_end}}
            )
        logged["request_id"] = req.id
        return Reply(
            f"已提交：常设群登记{unit_text}{purpose_text}。常设群需督导审批（申请 #{req.id}），"
            "审批前本群显示为“待审批”。",
            outcome="pending",
            args=logged,
            notices=notices,
        )
    assert end is not None
    if was_kind in timed and room.original_end_date is not None:
        room.original_end_date = min(room.original_end_date, end)
    else:
        room.original_end_date, room.extension_count = end, 0
    room.kind, room.end_date, room.approved = kind, end, False
    withdraw(ctx, room, "standing")
    repo.log_event(
        ctx.session,
        kind="registered",
        at=ctx.now,
        room_id=room.id,
        actor_id=ctx.talker,
        detail={"kind": kind, "end_date": end.isoformat()},
    )
    return Reply(
        f"已登记：{KIND_CN[kind]}，截止 {format_date_cn(end)}{unit_text}{purpose_text}。"
        "到期后请及时解散本群。",
        args=logged,
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
    if rq.pending_for_room(ctx.session, room_id=room.id, kind="extend"):
        raise Refusal("already_pending", "本群已有一个延期申请在等待督导审批，请等审批结果。", logged)
    original = room.original_end_date or room.end_date
    limit = ctx.app.settings.max_extension_days
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
    repo.log_event(
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
    row = audit_rows(ctx).get(room.id)
    first = ctx.today.replace(day=1)
    month = rq.messages_between(ctx.session, room_id=room.id, first=first, last=ctx.today)
    pending = rq.pending_for_room(ctx.session, room_id=room.id)
    parts = [f"「{short(room.topic, 20)}」{_kind_text(room)}"]
    if room.unit:
        parts.append(f"单位：{room.unit}")
    if pending:
        parts.append("待审批：" + "、".join(f"{REQUEST_CN.get(r.kind, r.kind)} #{r.id}" for r in pending))
    parts.append(f"本月消息 {month} 条")
    labels = row.verdict.labels if row is not None else ()
    head = "\n".join(parts)
    body = "标签：" + _labels_text(labels, with_reason=True)
    return Reply(clip(head + "\n" + body), args={"labels": [lb.code for lb in labels]})


# ---------------------------------------------------------------- private: owners

MY_GROUPS_EXAMPLE = "我的群 2"
CLAIM_EXAMPLE = "已解散 2"
RETAIN_EXAMPLE = "保留 2 全年防汛值班需要"


def _my_room(ctx: Ctx, args: list[str], example: str) -> tuple[Room, int]:
    number = parse_number(args, "群编号", example)
    rooms = rq.managed_rooms(ctx.session, contact_id=ctx.talker)
    if not rooms:
        raise Refusal(
            "no_groups", "你名下没有我所在的群（群主、管理员或邀请我入群的人才能管理）。", {"number": number}
        )
    if number > len(rooms):
        raise Refusal(
            "not_yours",
            f"编号 {number} 不在你的群列表里（共 {len(rooms)} 个）。"
            f"请先发送“我的群”查看编号，再发送：{example}",
            {"number": number},
        )
    return rooms[number - 1], number


def my_groups(ctx: Ctx, args: list[str]) -> Reply:
    page = parse_page(args, MY_GROUPS_EXAMPLE)
    rooms = rq.managed_rooms(ctx.session, contact_id=ctx.talker)
    if not rooms:
        return Reply("你名下没有我所在的群（群主、管理员或邀请我入群的人才能看到）。", args={"page": page})
    pages = (len(rooms) + PAGE_SIZE - 1) // PAGE_SIZE
    if page > pages:
        raise Refusal("bad_page", f"只有 {pages} 页。发送“我的群”看第 1 页。", {"page": page})
    rows = audit_rows(ctx)
    lines = [f"你的群（共 {len(rooms)} 个，第 {page}/{pages} 页）："]
    start = (page - 1) * PAGE_SIZE
    for n, room in enumerate(rooms[start : start + PAGE_SIZE], start=start + 1):
        kind = KIND_SHORT.get(room.kind or "", "未登记")
        if room.end_date:
            kind += f" 截止{room.end_date.strftime('%m-%d')}"
        row = rows.get(room.id)
        shown = [lb for lb in (row.verdict.labels if row else ()) if lb.code != "unregistered"]
        labels = _labels_text(shown, with_reason=False)
        extra = ""
        if row is not None and row.pending:
            extra += "｜待审批"
        if room.claimed_dissolved_at is not None:
            extra += "｜已报解散"
        lines.append(f"{n}. {short(room.topic)}｜{kind}｜{labels}{extra}")
    tail = f"发送“我的群 {page + 1}”看下一页。" if page < pages else ""
    lines.append(tail + "可回复“已解散 编号”或“保留 编号 理由”。")
    return Reply(clip("\n".join(lines)), args={"page": page, "count": len(rooms)})


def claim_dissolved(ctx: Ctx, args: list[str]) -> Reply:
    room, number = _my_room(ctx, args, CLAIM_EXAMPLE)
    logged = {"number": number, "room_id": room.id}
    if room.claimed_dissolved_at is None:
        room.claimed_dissolved_at = ctx.now
        repo.log_event(ctx.session, kind="dissolve_claimed", at=ctx.now, room_id=room.id, actor_id=ctx.talker)
    return Reply(
        f"已记录：「{short(room.topic, 20)}」已报解散。我确认群已解散后会从台账中移除，谢谢配合！",
        args=logged,
    )


def retain(ctx: Ctx, args: list[str]) -> Reply:
    room, number = _my_room(ctx, args, RETAIN_EXAMPLE)
    logged: dict[str, Any] = {"number": number, "room_id": room.id}
    if len(args) < 2:
        raise Refusal("missing_reason", f"请写明保留理由。正确写法：{RETAIN_EXAMPLE}", logged)
    reason = free_text(args[1:], "理由", RETAIN_EXAMPLE)
    if rq.pending_for_room(ctx.session, room_id=room.id, kind="retain"):
        raise Refusal("already_pending", f"「{short(room.topic)}」的保留申请已在等待督导审批。", logged)
    row = audit_rows(ctx).get(room.id)
    labels = [lb for lb in (row.verdict.labels if row else ()) if lb.action in RETAINABLE_ACTIONS]
    if not labels:
        raise Refusal(
            "not_labelled",
            f"「{short(room.topic)}」目前没有被标记清理，无需申请保留"
            + ("；未登记的群请在群里@我登记。" if room.kind is None else "。"),
            logged,
        )
    req, notices = open_request(ctx, room, "retain", {"reason": reason, "labels": [lb.code for lb in labels]})
    logged["request_id"] = req.id
    return Reply(
        f"保留申请已提交（#{req.id}）：「{short(room.topic)}」（{_labels_text(labels, with_reason=False)}），"
        "需督导审批，结果会私聊告诉你。",
        outcome="pending",
        args=logged,
        notices=notices,
    )


# ---------------------------------------------------------------- private: supervisors

PENDING_EXAMPLE = "待审批 2"
APPROVE_EXAMPLE = "批准 12"
REJECT_EXAMPLE = "驳回 12 不符合常设群条件"


def _scope_unit(req: ApprovalRequest) -> str | None:
    unit = rq.request_payload(req).get("unit")
    return str(unit) if unit else None


def pending_list(ctx: Ctx, args: list[str]) -> Reply:
    page = parse_page(args, PENDING_EXAMPLE)
    mine = [
        r for r in rq.pending_requests(ctx.session) if can_approve(ctx.session, ctx.talker, _scope_unit(r))
    ]
    if not mine:
        return Reply("目前没有待你审批的申请。", args={"page": page, "count": 0})
    pages = (len(mine) + PAGE_SIZE - 1) // PAGE_SIZE
    if page > pages:
        raise Refusal("bad_page", f"只有 {pages} 页。发送“待审批”看第 1 页。", {"page": page})
    lines = [f"待审批（共 {len(mine)} 件，第 {page}/{pages} 页）："]
    lines += [request_summary(ctx.session, r) for r in mine[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    tail = f"发送“待审批 {page + 1}”看下一页。" if page < pages else ""
    lines.append(tail + "回复“批准 编号”或“驳回 编号 理由”。")
    return Reply(clip("\n".join(lines)), args={"page": page, "count": len(mine)})


def _my_request(ctx: Ctx, args: list[str], example: str) -> ApprovalRequest:
    number = parse_number(args, "申请编号", example)
    req = rq.get_request(ctx.session, request_id=number)
    if req is None or req.status != "pending":
        state = {"approved": "已批准", "rejected": "已驳回", "withdrawn": "已撤回"}.get(
            req.status if req else "", "不存在"
        )
        raise Refusal(
            "no_such_request",
            f"申请 #{number} {state}，不在待审批列表中。发送“待审批”查看。",
            {"request_id": number},
        )
    unit = _scope_unit(req)
    if not can_approve(ctx.session, ctx.talker, unit):
        raise Refusal(
            "outside_unit",
            f"申请 #{number} 不在你的管辖范围，应由{who_approves(ctx.session, unit)}审批。",
            {"request_id": number},
        )
    return req


def _decision_notice(ctx: Ctx, req: ApprovalRequest, text: str) -> OutgoingMessage:
    return OutgoingMessage(
        dedupe_key=f"decision|{req.id}",
        text=clip(text),
        kind="decision_notice",
        period=ctx.today.isoformat(),
        recipient_id=req.requested_by,
    )


def approve(ctx: Ctx, args: list[str]) -> Reply:
    req = _my_request(ctx, args, APPROVE_EXAMPLE)
    room = repo.get_room(ctx.session, room_id=req.room_id)
    history.record_room(ctx.session, room=room, at=ctx.now)
    p = rq.request_payload(req)
    if room is not None:
        if req.kind == "extend":
            new_end = date.fromisoformat(str(p["new_end_date"]))
            room.end_date, room.extension_count = new_end, room.extension_count + 1
        elif req.kind == "standing":
            room.approved = True
        # An approved "retain" request is itself the record; the audit reads it (RoomFacts.retained).
    rq.decide_request(ctx.session, req=req, status="approved", by=ctx.talker, at=ctx.now, reason=None)
    line = request_summary(ctx.session, req)
    notices = (
        [] if req.requested_by == ctx.talker else [_decision_notice(ctx, req, f"你的申请已批准：{line}")]
    )
    return Reply(clip(f"已批准 {line}"), args={"request_id": req.id, "kind": req.kind}, notices=notices)


def reject(ctx: Ctx, args: list[str]) -> Reply:
    req = _my_request(ctx, args, REJECT_EXAMPLE)
    assert req.id is not None
    if len(args) < 2:
        raise Refusal(
            "missing_reason", f"驳回请写明理由。正确写法：驳回 {req.id} 理由", {"request_id": req.id}
        )
    reason = free_text(args[1:], "理由", REJECT_EXAMPLE)
    room = repo.get_room(ctx.session, room_id=req.room_id)
    history.record_room(ctx.session, room=room, at=ctx.now)
    if room is not None and req.kind == "standing" and room.kind == "standing":
        prev = rq.request_payload(req).get("prev") or {}
        room.kind = prev.get("kind") if prev.get("kind") in KIND_CN else None
        room.end_date = date.fromisoformat(prev["end_date"]) if prev.get("end_date") else None
        room.approved = False
    rq.decide_request(ctx.session, req=req, status="rejected", by=ctx.talker, at=ctx.now, reason=reason)
    line = request_summary(ctx.session, req)
    notices = (
        []
        if req.requested_by == ctx.talker
        else [_decision_notice(ctx, req, f"你的申请被驳回：{line}。驳回理由：{reason}")]
    )
    return Reply(clip(f"已驳回 {line}"), args={"request_id": req.id, "kind": req.kind}, notices=notices)


def summary(ctx: Ctx, args: list[str]) -> Reply:
    me = rq.get_contact(ctx.session, contact_id=ctx.talker)
    unit = me.unit if me else None
    scope: dict[str | None, bool] = {}

    def mine(u: str | None) -> bool:
        if u not in scope:
            scope[u] = can_approve(ctx.session, ctx.talker, u)
        return scope[u]

    rows = [r for r in audit_rows(ctx).values() if r.room.status == "active" and mine(r.room.unit)]
    kinds = {k: sum(1 for r in rows if r.room.kind == k) for k in KIND_CN}
    unregistered = sum(1 for r in rows if r.room.kind is None)
    flagged = [r for r in rows if any(lb.action in ("dissolve", "merge") for lb in r.verdict.labels)]
    by_code: dict[str, int] = {}
    for r in flagged:
        for lb in r.verdict.labels:
            if lb.action in ("dissolve", "merge"):
                by_code[lb.code] = by_code.get(lb.code, 0) + 1
    pending = [r for r in rq.pending_requests(ctx.session) if mine(_scope_unit(r))]
    claimed = sum(1 for r in rows if r.room.claimed_dissolved_at is not None)
    codes = "、".join(f"{LABEL_CN.get(c, c)} {n}" for c, n in sorted(by_code.items(), key=lambda x: -x[1]))
    text = (
        f"{unit or '全部'}工作群汇总（{ctx.today.isoformat()}）：在管 {len(rows)} 个；"
        f"常设 {kinds['standing']}、临时 {kinds['temporary']}、阶段性 {kinds['phase']}、"
        f"未登记 {unregistered}；"
        f"建议清理 {len(flagged)} 个"
        + (f"（{codes}）" if codes else "")
        + f"；待审批 {len(pending)} 件；已报解散待确认 {claimed} 个。"
    )
    return Reply(clip(text), args={"groups": len(rows), "flagged": len(flagged), "pending": len(pending)})
