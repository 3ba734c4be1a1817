"""What every command handler shares: its context, its result types and the argument parsers.

Each handler gets a `Ctx` (the services, the message, one open session, the room if any) and
the argument tokens, and either returns a `Reply` or raises `Refusal`. A refusal rolls the
whole session back, so bad input never changes storage; the dispatcher then logs it on its own.
Free text (purpose, reasons) is kept only where the workflow needs it: the room's declared
purpose and the approval request a supervisor reads. The command log holds parsed fields only.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.core.dates import (
    DateError,
    check_end_date,
    format_date_cn,
    number_value,
    parse_date,
    parse_leading_date,
)
from bot.core.domain import ChatMessage, OutgoingMessage
from bot.core.wording import KIND_CN, label_cn
from bot.services.audit import AuditRow, evaluate_rooms
from bot.services.context import AppContext
from storage import directory as directory_db
from storage.models import Room

MAX_REPLY = 300
PAGE_SIZE = 5
MAX_FREE_TEXT = 50  # purpose / reason, in characters


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
    services: AppContext
    msg: ChatMessage
    session: Session
    now: datetime
    today: date
    tz: ZoneInfo
    room: Room | None = None

    @property
    def bot_name(self) -> str:
        return self.services.settings.bot_name

    @property
    def talker(self) -> str:
        return self.msg.talker_id

    def name(self, contact_id: str | None) -> str:
        return directory_db.contact_name(self.session, contact_id=contact_id)

    def need_room(self) -> Room:
        if self.room is None:  # dispatch guarantees a room for room commands
            raise Refusal("no_room", "请在群里@我发送这条指令。")
        return self.room


# ---------------------------------------------------------------- text


def clip(text: str, limit: int = MAX_REPLY) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short(text: str | None, limit: int = 14) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def labels_text(labels: Sequence[Any], with_reason: bool) -> str:
    if not labels:
        return "无"
    if with_reason:
        return "；".join(f"{label_cn(lb.code)}：{lb.reason}" for lb in labels)
    return "、".join(label_cn(lb.code) for lb in labels)


def kind_text(room: Room) -> str:
    if room.kind is None:
        return "未登记"
    text = KIND_CN.get(room.kind, room.kind)
    if room.end_date is not None:
        text += f"，截止 {format_date_cn(room.end_date)}"
    if room.extension_count:
        text += f"（已延期 {room.extension_count} 次）"
    return text


# ---------------------------------------------------------------- labels


def audit_rows(ctx: Ctx, room_ids: Collection[str]) -> dict[str, AuditRow]:
    """The audit rows of these rooms as of the message time (the activity counted so far was
    flushed before the command), exactly as a full audit would give them, at a cost in
    proportion to the rooms asked about.

    Call before writing in ctx.session (SQLite: one writer).
    """
    return evaluate_rooms(ctx.services.engine, ctx.services.rules, ctx.now, ctx.tz, room_ids)


# ---------------------------------------------------------------- arguments


# ASCII digits or Chinese numerals only: `\d` and str.isdigit() also accept Arabic-Indic and
# other scripts' digits, which nobody here types on purpose ("批准 ٣" must not approve #3).
_NUMBER = re.compile(r"(?:第|#|No\.?)?([0-9]{1,6}|[〇零○一二两三四五六七八九十百千廿卅]{1,8})(?:号|个)?")


def _number(token: str) -> int | None:
    m = _NUMBER.fullmatch(token)
    return number_value(m.group(1)) if m else None


def parse_number(tokens: Sequence[str], what: str, example: str) -> int:
    """The first token as a positive list number ("2", "#2", "第2个", "2号", "第三个")."""
    if not tokens:
        raise Refusal("missing_number", f"缺少{what}。正确写法：{example}")
    value = _number(tokens[0])
    if not value:
        raise Refusal("bad_number", f"{what}须是数字。正确写法：{example}")
    return value


def parse_page(tokens: Sequence[str], example: str) -> int:
    if not tokens:
        return 1
    value = _number(tokens[0]) if len(tokens) == 1 else None
    if value is not None and 0 < value < 10_000:
        return value
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
        if directory_db.has_units(ctx.session) and directory_db.get_unit(ctx.session, name=name) is None:
            raise Refusal("unknown_unit", f"名册里没有这个单位，请核对单位全称。例如：{example}")
        return rest, name
    return tokens, None
