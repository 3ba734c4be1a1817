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
    # The bot account that received it (None: the only one); its answer goes back through it.
    via: str | None = None


# The official gateway takes one gRPC message of at most 4 MiB, and a file travels in it as
# base64 (4/3 of its size) inside JSON: 3,000,000 bytes leave room for the name and framing.
MAX_FILE_BYTES = 3_000_000


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """A file (a chart, say) sent as one message; `name` is what the recipient sees."""

    name: str
    data: bytes

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or "\\" in self.name:
            raise ValueError(f"a file name without folders is needed, not {self.name!r}")
        if not self.data:
            raise ValueError(f"file {self.name} is empty")
        if len(self.data) > MAX_FILE_BYTES:
            raise ValueError(f"file {self.name} has {len(self.data)} bytes, more than {MAX_FILE_BYTES}")


# Answers to a person who just wrote, and the greeting to a group that just invited the bot: they
# go out at any hour (still paced) and ahead of queued pushes. Everything else (digests,
# reminders, notices to third parties) is a push, sent in working time only.
REPLY_KINDS = frozenset({"reply", "greeting", "hint"})


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to send: text, or a file (then `text` is empty and nobody is @mentioned)."""

    dedupe_key: str
    text: str
    kind: str = "notice"  # a push unless it says otherwise: never at night by accident
    period: str = ""
    recipient_id: str | None = None
    room_id: str | None = None
    mentions: tuple[str, ...] = field(default_factory=tuple)
    file: OutgoingFile | None = None
    # The bot account to send it through; None lets the outbox route it (bot.services.routing).
    account_id: str | None = None

    def __post_init__(self) -> None:
        if self.file is not None and (self.text or self.mentions):
            raise ValueError("a file message carries no text and no mentions")

    @property
    def lane(self) -> str:
        return "reply" if self.kind in REPLY_KINDS else "push"
