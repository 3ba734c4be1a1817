"""`dispatch()`: the one entry point for text addressed to the bot.

For every command, accepted or refused, it writes one CommandLog row with parsed fields only,
and queues at most one reply through the outbox. A refusal rolls back everything the handler
did, so bad input changes nothing but the log. It runs in a worker thread (bot.app.router).

Refusals in a group are rationed, so a crowd sending commands it may not use cannot bury the
group (and the owner's own answers) under replies: one a day to the same person, a few an hour
into the group (the group's managers are always answered). The rest are logged (reason
`suppressed:<code>`) and not sent. Answers any member may ask for (帮助) share the ration.
"""

from __future__ import annotations

import traceback
from datetime import timedelta
from typing import Any

from loguru import logger
from sqlmodel import Session

from bot.commands.approvals import scope_unit, who_approves
from bot.commands.kit import Ctx, Refusal, clip
from bot.commands.registry import REGISTRY, CommandSpec, CommandTable
from bot.core.domain import ChatMessage, OutgoingMessage
from bot.core.textnorm import normalize_command
from bot.core.wording import HELP, MY_GROUPS, REGISTER_EXAMPLE
from bot.services.context import AppContext
from storage import approvals as approvals_db
from storage import directory as directory_db
from storage import rooms as rooms_db
from storage.db import session_scope

RATE_LIMIT = 10  # commands per sender per RATE_WINDOW of message time
RATE_WINDOW = timedelta(minutes=1)
MAX_INPUT_CHARS = 2000  # longer input is refused before any parsing work
MAX_COMMAND_CHARS = 200  # after normalisation
ROOM_REFUSALS_PER_HOUR = 3  # refusals sent into one group per rolling hour
PERSON_REFUSALS_PER_DAY = 1  # refusals sent to one person in one group per local day


def _reply_message(msg: ChatMessage, key: str, text: str, kind: str = "reply") -> OutgoingMessage:
    return OutgoingMessage(
        dedupe_key=key,
        text=clip(text),
        kind=kind,
        period=msg.at.date().isoformat(),
        recipient_id=None if msg.room_id else msg.talker_id,
        room_id=msg.room_id,
        mentions=(msg.talker_id,) if msg.room_id else (),
    )


def _finish(
    services: AppContext,
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
    approvals_db.log_command(
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
        services.outbox.enqueue(reply, session=s)
    for notice in notices or ():
        services.outbox.enqueue(notice, session=s)


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
        if not rooms_db.is_manager(room, ctx.talker):
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
        me = directory_db.get_contact(ctx.session, contact_id=ctx.talker)
        if me is None or me.role != "supervisor":
            unit = me.unit if me else None
            first = args[0] if args else ""
            if spec.code in ("approve", "reject") and first.isascii() and first.isdigit() and len(first) < 10:
                req = approvals_db.get_request(ctx.session, request_id=int(first))
                if req is not None:
                    unit = scope_unit(req)
            raise Refusal(
                "not_supervisor",
                f"抱歉，“{spec.name}”仅限督导使用，请联系{who_approves(ctx.session, unit)}。",
            )


def _suppressed(services: AppContext, s: Session, msg: ChatMessage) -> bool:
    """Whether a refusal in a group is over its ration (then it is logged, not sent).

    The group's managers are always answered: they are the ones the commands are for, and a
    mistyped 登记 needs its explanation every time.
    """
    if msg.room_id is None:
        return False
    room = rooms_db.get_room(s, room_id=msg.room_id)
    if room is not None and rooms_db.is_manager(room, msg.talker_id):
        return False
    local = msg.at.astimezone(services.tz)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    to_person = approvals_db.refusals_sent(
        s, room_id=msg.room_id, sender_id=msg.talker_id, since=day_start, until=msg.at
    )
    if to_person >= PERSON_REFUSALS_PER_DAY:
        return True
    into_room = approvals_db.refusals_sent(
        s, room_id=msg.room_id, since=msg.at - timedelta(hours=1), until=msg.at
    )
    return into_room >= ROOM_REFUSALS_PER_HOUR


def _refuse(
    services: AppContext,
    msg: ChatMessage,
    *,
    code: str,
    reason: str,
    reply: OutgoingMessage | None,
    args: dict[str, Any] | None = None,
) -> None:
    """Log a refusal and send its reply, unless the group's ration of refusals is used up."""
    with session_scope(services.engine) as s:
        if reply is not None and _suppressed(services, s, msg):
            reason, reply = f"suppressed:{reason}", None
        _finish(services, s, msg, code=code, outcome="refused", reason=reason, args=args, reply=reply)


def _mention_hint(services: AppContext, msg: ChatMessage) -> None:
    """ "@清群助手 …" typed as text, without WeChat's mention: say how to mention, once a day."""
    assert msg.room_id is not None
    today = msg.at.astimezone(services.tz).date()
    bot_name = services.settings.bot_name
    hint = OutgoingMessage(
        dedupe_key=f"mention_hint|{msg.room_id}|{today.isoformat()}",
        text=f"请用微信的@功能从群成员中选中“{bot_name}”再发指令；手动输入的“@{bot_name}”不算@我，指令不会执行。",
        kind="hint",
        period=today.isoformat(),
        room_id=msg.room_id,
    )
    with session_scope(services.engine) as s:
        _finish(services, s, msg, code="unknown", outcome="refused", reason="not_mentioned", reply=hint)


def dispatch(services: AppContext, msg: ChatMessage, table: CommandTable = REGISTRY) -> None:
    """Handle one message addressed to the bot. Never raises: one bad message must not stop the bot."""
    if msg.talker_id == services.bot_id:
        return
    if msg.command_text is None:
        if msg.named_without_mention and msg.room_id is not None:
            try:
                _mention_hint(services, msg)
            except Exception as exc:
                logger.error("mention hint for {} failed: {}", msg.room_id, type(exc).__name__)
        return
    try:
        _dispatch(services, msg, table)
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


def _dispatch(services: AppContext, msg: ChatMessage, table: CommandTable) -> None:
    assert msg.command_text is not None
    tz = services.tz
    today = msg.at.astimezone(tz).date()
    raw = msg.command_text
    text = normalize_command(raw[:MAX_INPUT_CHARS])
    if not text and msg.room_id is None:
        return  # an empty private message is nothing to answer
    spec, args = table.match(text.split())
    code = spec.code if spec else "unknown"
    with session_scope(services.engine) as s:
        since = msg.at - RATE_WINDOW
        recent = approvals_db.commands_since(s, sender_id=msg.talker_id, since=since, until=msg.at)
        seq = approvals_db.commands_at(s, sender_id=msg.talker_id, room_id=msg.room_id, at=msg.at)
    # Unique per reply; a redelivered message gets the same key, so it is answered once.
    key = f"reply|{msg.room_id or '-'}|{msg.talker_id}|{msg.at.isoformat()}" + (f"|{seq}" if seq else "")

    if recent >= RATE_LIMIT:
        note = None
        if recent == RATE_LIMIT:  # say it once per burst, then stay quiet
            note = _reply_message(msg, key, "你发指令太频繁了，请一分钟后再试。")
        _refuse(services, msg, code=code, reason="rate_limited", reply=note)
        return

    if spec is None:
        bot_name = services.settings.bot_name
        with session_scope(services.engine) as s:
            if msg.room_id is not None:
                # A mention that is not a command: one short hint per room per day.
                hint = OutgoingMessage(
                    dedupe_key=f"hint|{msg.room_id}|{today.isoformat()}",
                    text=f"我是{bot_name}，负责工作群登记清理。群主可@我发送“{REGISTER_EXAMPLE}”，"
                    f"发送“@{bot_name} {HELP}”查看全部指令。",
                    kind="hint",
                    period=today.isoformat(),
                    room_id=msg.room_id,
                )
                _finish(services, s, msg, code=code, outcome="refused", reason="not_a_command", reply=hint)
            else:
                names = "、".join(x.name for x in table if x.where != "room" and x.who != "supervisor")
                reply = _reply_message(msg, key, f"没有这个指令。私聊我可用：{names}。例如：{MY_GROUPS}")
                _finish(services, s, msg, code=code, outcome="refused", reason="unknown_command", reply=reply)
        return

    try:
        if len(raw) > MAX_INPUT_CHARS or len(text) > MAX_COMMAND_CHARS:
            raise Refusal("too_long", f"指令太长了，请精简后再发。正确写法：{spec.example}")
        with session_scope(services.engine) as s:
            room = rooms_db.get_room(s, room_id=msg.room_id) if msg.room_id else None
            ctx = Ctx(services, msg, s, now=msg.at, today=today, tz=tz, room=room)
            _check_access(ctx, spec, args)
            result = spec.handler(ctx, args)
            answer: OutgoingMessage | None = _reply_message(msg, key, result.text)
            reason = ""
            if spec.who == "anyone" and _suppressed(services, s, msg):
                # 帮助 is open to every member: in a group it is rationed like a refusal.
                answer, reason = None, "suppressed:reply"
            _finish(
                services, s, msg,
                code=spec.code, outcome=result.outcome, reason=reason, args=result.args,
                reply=answer, notices=result.notices,
            )  # fmt: skip
    except Refusal as refusal:
        # The handler's session was rolled back: nothing changed but this log row.
        _refuse(
            services, msg,
            code=spec.code, reason=refusal.code, args=refusal.args_logged,
            reply=_reply_message(msg, key, refusal.text),
        )  # fmt: skip
