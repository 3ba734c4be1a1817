"""Chat commands as declared specs in one registry; parsing, permissions and help come from it.

`dispatch()` is the only entry point (called by `App.message` for text addressed to the bot).
For every command, accepted or refused, it writes one CommandLog row with parsed fields only,
and queues at most one reply through the outbox. A refusal rolls back everything the handler
did, so bad input changes nothing but the log.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from loguru import logger
from sqlmodel import Session

from bot import services_commands as uc
from bot.domain import ChatMessage, OutgoingMessage
from bot.services_commands import Ctx, Refusal, Reply
from bot.textnorm import normalize_command
from storage import repo
from storage import requests as rq
from storage.db import session_scope

if TYPE_CHECKING:
    from bot.services import App

Where = Literal["room", "private", "any"]
Who = Literal["anyone", "manager", "supervisor"]
Handler = Callable[[Ctx, list[str]], Reply]

RATE_LIMIT = 10  # commands per sender per RATE_WINDOW of message time
RATE_WINDOW = timedelta(minutes=1)
MAX_INPUT_CHARS = 2000  # longer input is refused before any parsing work
MAX_COMMAND_CHARS = 200  # after normalisation


@dataclass(frozen=True)
class CommandSpec:
    code: str  # stable id for the command log
    name: str
    aliases: tuple[str, ...]
    where: Where
    who: Who
    usage: str
    example: str
    summary: str
    handler: Handler


def _help(ctx: Ctx, args: list[str]) -> Reply:
    return Reply(help_text(ctx, args[0] if args else None), args={"topic": _word(args[0]) if args else None})


REGISTRY: tuple[CommandSpec, ...] = (
    CommandSpec(
        "register", "登记", ("备案",), "room", "manager",
        "登记 <常设|临时|阶段性> [截止日期] [单位 名称] [用途]",
        uc.REGISTER_EXAMPLE,
        "登记本群类型、截止日期和用途；临时、阶段性群须写截止日期，常设群需督导审批",
        uc.register,
    ),
    CommandSpec(
        "extend", "延期", (), "room", "manager",
        "延期 <新截止日期> [理由]", uc.EXTEND_EXAMPLE,
        "推迟截止日期；超过原截止日期 90 天或第 3 次延期需督导审批",
        uc.extend,
    ),
    CommandSpec(
        "status", "状态", ("查询",), "room", "manager",
        "状态", "状态", "查看本群登记、清理标签和本月消息数",
        uc.status,
    ),
    CommandSpec(
        "my_groups", "我的群", ("我的群组",), "private", "anyone",
        "我的群 [页码]", "我的群", "列出你管理的群及其标签（编号供已解散、保留使用）",
        uc.my_groups,
    ),
    CommandSpec(
        "claim_dissolved", "已解散", (), "private", "anyone",
        "已解散 <编号>", uc.CLAIM_EXAMPLE, "报告“我的群”列表中某个群已解散",
        uc.claim_dissolved,
    ),
    CommandSpec(
        "retain", "保留", ("申请保留",), "private", "anyone",
        "保留 <编号> <理由>", uc.RETAIN_EXAMPLE, "为被标记清理的群申请保留，交督导审批",
        uc.retain,
    ),
    CommandSpec(
        "pending", "待审批", ("审批",), "private", "supervisor",
        "待审批 [页码]", "待审批", "列出本单位及下级单位待审批的申请（编号即申请号）",
        uc.pending_list,
    ),
    CommandSpec(
        "approve", "批准", ("同意",), "private", "supervisor",
        "批准 <申请号>", uc.APPROVE_EXAMPLE, "批准一件申请",
        uc.approve,
    ),
    CommandSpec(
        "reject", "驳回", ("不同意",), "private", "supervisor",
        "驳回 <申请号> <理由>", uc.REJECT_EXAMPLE, "驳回一件申请并说明理由",
        uc.reject,
    ),
    CommandSpec(
        "summary", "汇总", ("统计",), "private", "supervisor",
        "汇总", "汇总", "本单位及下级单位工作群数量、待清理和待审批情况",
        uc.summary,
    ),
    CommandSpec(
        "help", "帮助", ("help", "?", "菜单", "指令"), "any", "anyone",
        "帮助 [指令]", "帮助 登记", "查看可用指令或某条指令的说明",
        _help,
    ),
)  # fmt: skip

_BY_WORD: dict[str, CommandSpec] = {w.lower(): s for s in REGISTRY for w in (s.name, *s.aliases)}
_WORDS_LONGEST_FIRST = sorted(_BY_WORD, key=len, reverse=True)


def _word(token: str) -> str | None:
    """The canonical name a token refers to (help topics), if any."""
    spec = _BY_WORD.get(token.lower())
    return spec.name if spec else None


def match(tokens: list[str]) -> tuple[CommandSpec | None, list[str]]:
    """Find the command in the first token; `我的群2` and `批准12` work without the space."""
    if not tokens:
        return None, []
    first = tokens[0].lower()
    spec = _BY_WORD.get(first)
    if spec is not None:
        return spec, tokens[1:]
    for word in _WORDS_LONGEST_FIRST:
        if first.startswith(word) and len(first) > len(word):
            return _BY_WORD[word], [tokens[0][len(word) :], *tokens[1:]]
    return None, tokens[1:]


def help_text(ctx: Ctx, topic: str | None) -> str:
    """Generated from the registry; shows what the asker can use where they asked."""
    bot = ctx.bot_name
    if topic is not None:
        spec = _BY_WORD.get(topic.lower())
        if spec is not None:
            where = {"room": f"在群里@{bot}发送", "private": "私聊我发送", "any": "群里@我或私聊均可"}[
                spec.where
            ]
            who = {
                "anyone": "所有人",
                "manager": "群主、群管理员或邀请我入群的人",
                "supervisor": "督导（本单位或上级单位）",
            }[spec.who]
            return uc.clip(f"{spec.usage}\n{spec.summary}。\n{where}；可用：{who}。\n例：{spec.example}")
    me = rq.get_contact(ctx.session, contact_id=ctx.talker)
    supervisor = me is not None and me.role == "supervisor"
    if ctx.msg.room_id is not None:
        lines = [f"在群里@{bot}发送："]
        lines += [
            f"{s.usage}，例：{s.example}" if s.example != s.usage else f"{s.usage}：{s.summary}"
            for s in REGISTRY
            if s.where == "room"
        ]
        others = [s.name for s in REGISTRY if s.where == "private" and (supervisor or s.who != "supervisor")]
        lines.append(f"私聊我可用：{'、'.join(others)}。发送“帮助 登记”看详细说明。")
    else:
        lines = ["私聊我发送："]
        lines += [
            f"{s.usage}：{s.summary.split('（')[0].split('，')[0]}"
            for s in REGISTRY
            if s.where == "private" and (supervisor or s.who != "supervisor")
        ]
        room_cmds = "、".join(s.name for s in REGISTRY if s.where == "room")
        lines.append(f"在群里@我可用：{room_cmds}。发送“帮助 指令名”看详细说明。")
    return uc.clip("\n".join(lines))


# ---------------------------------------------------------------- dispatch


def _reply_message(msg: ChatMessage, key: str, text: str, kind: str = "reply") -> OutgoingMessage:
    return OutgoingMessage(
        dedupe_key=key,
        text=uc.clip(text),
        kind=kind,
        period=msg.at.date().isoformat(),
        recipient_id=None if msg.room_id else msg.talker_id,
        room_id=msg.room_id,
        mentions=(msg.talker_id,) if msg.room_id else (),
    )


def _finish(
    app: App,
    s: Session,
    msg: ChatMessage,
    *,
    code: str,
    outcome: str,
    reason: str = "",
    args: dict[str, Any] | None = None,
    reply: OutgoingMessage | None = None,
    notices: list[OutgoingMessage] | None = None,
) -> None:
    rq.log_command(
        s,
        at=msg.at,
        sender_id=msg.talker_id,
        room_id=msg.room_id,
        command=code,
        args=args or {},
        outcome=outcome,
        reason=reason,
    )
    if reply is not None:
        app.outbox.enqueue(reply, session=s)
    for notice in notices or ():
        app.outbox.enqueue(notice, session=s)


def _check_access(ctx: Ctx, spec: CommandSpec, args: list[str]) -> None:
    """Place and permission, from the spec; raises Refusal naming who may do it."""
    bot = ctx.bot_name
    if spec.where == "room" and ctx.msg.room_id is None:
        raise Refusal("wrong_place", f"“{spec.name}”要在群里@我发送，例如：@{bot} {spec.example}")
    if spec.where == "private" and ctx.msg.room_id is not None:
        raise Refusal("wrong_place", f"“{spec.name}”请私聊我发送，例如：{spec.example}")
    if spec.where == "room" and ctx.room is None:
        raise Refusal("room_unknown", "我还没有登记到本群的信息，请群主把我移出后重新拉进群。")
    if spec.who == "manager":
        room = ctx.need_room()
        if not rq.is_manager(room, ctx.talker):
            owner = ctx.name(room.owner_id) if room.owner_id else "群主"
            inviter = (
                f"（{ctx.name(room.enrolled_by)}）"
                if room.enrolled_by and room.enrolled_by != room.owner_id
                else ""
            )
            raise Refusal(
                "not_manager",
                f"抱歉，只有群主（{owner}）、群管理员或邀请我入群的人{inviter}可以使用“{spec.name}”。",
            )
    elif spec.who == "supervisor":
        me = rq.get_contact(ctx.session, contact_id=ctx.talker)
        if me is None or me.role != "supervisor":
            unit = me.unit if me else None
            if spec.code in ("approve", "reject") and args and args[0].isdigit() and len(args[0]) < 10:
                req = rq.get_request(ctx.session, request_id=int(args[0]))
                if req is not None:
                    unit = uc._scope_unit(req)
            raise Refusal(
                "not_supervisor",
                f"抱歉，“{spec.name}”仅限督导使用，请联系{uc.who_approves(ctx.session, unit)}。",
            )


def dispatch(app: App, msg: ChatMessage) -> None:
    """Handle one message addressed to the bot. Never raises: one bad message must not stop the bot."""
    if msg.command_text is None or msg.talker_id == app.bot_id:
        return
    try:
        _dispatch(app, msg)
    except Exception as exc:
        # No traceback values or exception text: either could carry the message text.
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f"{frame.filename}:{frame.lineno}" if frame else "?"
        logger.error(
            "command from {} at {} failed: {} at {}",
            msg.talker_id,
            msg.at.isoformat(),
            type(exc).__name__,
            where,
        )


def _dispatch(app: App, msg: ChatMessage) -> None:
    assert msg.command_text is not None
    tz = app.settings.tz
    today = msg.at.astimezone(tz).date()
    raw = msg.command_text
    text = normalize_command(raw[:MAX_INPUT_CHARS])
    if not text and msg.room_id is None:
        return  # an empty private message is nothing to answer
    spec, args = match(text.split())
    code = spec.code if spec else "unknown"
    with session_scope(app.engine) as s:
        recent = rq.commands_since(s, sender_id=msg.talker_id, since=msg.at - RATE_WINDOW, until=msg.at)
        seq = rq.commands_at(s, sender_id=msg.talker_id, room_id=msg.room_id, at=msg.at)
    # Unique per reply; a redelivered message gets the same key, so it is answered once.
    key = f"reply|{msg.room_id or '-'}|{msg.talker_id}|{msg.at.isoformat()}" + (f"|{seq}" if seq else "")

    if recent >= RATE_LIMIT:
        with session_scope(app.engine) as s:
            note = None
            if recent == RATE_LIMIT:  # say it once per burst, then stay quiet
                note = _reply_message(msg, key, "你发指令太频繁了，请一分钟后再试。")
            _finish(app, s, msg, code=code, outcome="refused", reason="rate_limited", reply=note)
        return

    if spec is None:
        with session_scope(app.engine) as s:
            if msg.room_id is not None:
                # A mention that is not a command: one short hint per room per day.
                hint = OutgoingMessage(
                    dedupe_key=f"hint|{msg.room_id}|{today.isoformat()}",
                    text=f"我是{app.settings.bot_name}，负责工作群登记清理。群主可@我发送“{uc.REGISTER_EXAMPLE}”，"
                    f"发送“@{app.settings.bot_name} 帮助”查看全部指令。",
                    kind="hint",
                    period=today.isoformat(),
                    room_id=msg.room_id,
                )
                _finish(app, s, msg, code=code, outcome="refused", reason="not_a_command", reply=hint)
            else:
                names = "、".join(s_.name for s_ in REGISTRY if s_.where != "room" and s_.who != "supervisor")
                reply = _reply_message(msg, key, f"没有这个指令。私聊我可用：{names}。例如：我的群")
                _finish(app, s, msg, code=code, outcome="refused", reason="unknown_command", reply=reply)
        return

    try:
        if len(raw) > MAX_INPUT_CHARS or len(text) > MAX_COMMAND_CHARS:
            raise Refusal("too_long", f"指令太长了，请精简后再发。正确写法：{spec.example}")
        with session_scope(app.engine) as s:
            room = repo.get_room(s, room_id=msg.room_id) if msg.room_id else None
            ctx = Ctx(app, msg, s, now=msg.at, today=today, tz=tz, room=room)
            _check_access(ctx, spec, args)
            result = spec.handler(ctx, args)
            _finish(
                app, s, msg,
                code=spec.code, outcome=result.outcome, args=result.args,
                reply=_reply_message(msg, key, result.text), notices=result.notices,
            )  # fmt: skip
    except Refusal as refusal:
        # The handler's session was rolled back: nothing changed but this log row.
        with session_scope(app.engine) as s:
            _finish(
                app, s, msg,
                code=spec.code, outcome="refused", reason=refusal.code, args=refusal.args_logged,
                reply=_reply_message(msg, key, refusal.text),
            )  # fmt: skip
