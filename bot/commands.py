"""Chat commands. (Being extended by the chat-commands issue; this is the dispatch entry point.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain import ChatMessage, OutgoingMessage

if TYPE_CHECKING:
    from bot.services import App


def dispatch(app: App, msg: ChatMessage) -> None:
    """Reply to a message addressed to the bot."""
    text = (msg.command_text or "").strip()
    name = app.settings.bot_name
    reply = (
        f"我是{name}，负责工作群清理登记。可用指令：登记、延期、状态、帮助；"
        f"私聊可用：我的群、已解散、保留。例如：@{name} 登记 临时 2026-12-31 征兵体检"
    )
    if not text:
        return
    key = f"reply|{msg.room_id or msg.talker_id}|{msg.talker_id}|{msg.at.isoformat()}"
    app.outbox.enqueue(
        OutgoingMessage(
            dedupe_key=key,
            text=reply,
            kind="reply",
            recipient_id=None if msg.room_id else msg.talker_id,
            room_id=msg.room_id,
            mentions=(msg.talker_id,) if msg.room_id else (),
        )
    )
