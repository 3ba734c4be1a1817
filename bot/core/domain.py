"""Frozen values the domain sees instead of wechaty objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RoomSnapshot:
    room_id: str
    topic: str
    owner_id: str | None
    member_ids: tuple[str, ...]  # the bot excluded
    admin_ids: tuple[str, ...] = ()
    bot_present: bool = True


@dataclass(frozen=True, slots=True)
class ContactInfo:
    contact_id: str
    name: str
    friend: bool


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One incoming message. `command_text` is set only when the text was addressed to the bot
    (a private message, or an @mention in a room) with the mention removed; otherwise the text
    never leaves the adapter."""

    room_id: str | None
    talker_id: str
    at: datetime  # UTC-aware, from the message payload
    mention_all: bool = False
    command_text: str | None = None
    # In a group, text starting with "@<bot name>" that carries no real mention: no command
    # runs, the group gets a hint on how to mention the bot.
    named_without_mention: bool = False


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    dedupe_key: str
    text: str
    kind: str = "reply"
    period: str = ""
    recipient_id: str | None = None
    room_id: str | None = None
    mentions: tuple[str, ...] = field(default_factory=tuple)
