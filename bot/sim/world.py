"""The simulated WeChat world that one or several bot accounts share: contacts, rooms, message
payloads and what the bots sent. Each account's puppet (bot.sim.puppet) sees it from its side.

Room events reach the puppet of every bot account in the room at that moment (a removed bot is
told too, as WeChat tells the removed account); a private message reaches the addressed bot
only. Each delivery has its own message id, as each account's copy has one in WeChat (and
python-wechaty drops ids it has seen before, process-wide). What a bot sends is only recorded,
never delivered to the other bots.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from wechaty_puppet.schemas.types import MessagePayload, MessageType


@dataclass
class SimContact:
    id: str
    name: str
    friend: bool = True
    # The bots this contact is a friend of; None: as `friend` says (True: every bot).
    friend_of: tuple[str, ...] | None = None

    def is_friend_of(self, bot_id: str) -> bool:
        return self.friend if self.friend_of is None else bot_id in self.friend_of


@dataclass
class SimRoom:
    id: str
    topic: str
    owner_id: str
    member_ids: list[str] = field(default_factory=list)
    admin_ids: list[str] = field(default_factory=list)
    alive: bool = True


@dataclass(frozen=True)
class SentMessage:
    at: datetime
    conversation_id: str
    room_id: str | None
    to_id: str | None
    text: str
    mention_ids: tuple[str, ...]
    file_name: str | None = None  # a file sent instead of text
    file_data: bytes | None = None
    via: str = ""  # the bot account that sent it


class Listener(Protocol):
    """One bot account's side of the world: its puppet."""

    bot_id: str

    def emit_raw(self, name: str, data: dict[str, Any]) -> None: ...


class SimWorld:
    """Contacts, rooms and message payloads, shared by the puppets of every bot account."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.contacts: dict[str, SimContact] = {}
        self.rooms: dict[str, SimRoom] = {}
        self.messages: dict[str, MessagePayload] = {}
        self.sent: list[SentMessage] = []
        self.refuse: set[str] = set()  # conversation ids whose sends fail, for failure tests
        self.listeners: dict[str, Listener] = {}  # bot id -> its puppet
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ world edits

    def attach(self, listener: Listener, name: str) -> None:
        """A bot account enters the world; bots are contacts, friends of nobody but themselves."""
        if listener.bot_id in self.listeners:
            raise ValueError(f"bot {listener.bot_id} is in the world already")
        self.listeners[listener.bot_id] = listener
        self.contacts[listener.bot_id] = SimContact(listener.bot_id, name, True, (listener.bot_id,))

    def add_contact(
        self, contact_id: str, name: str, friend: bool = True, friend_of: Iterable[str] | None = None
    ) -> None:
        self.contacts[contact_id] = SimContact(
            contact_id, name, friend, None if friend_of is None else tuple(friend_of)
        )

    def add_room(self, room: SimRoom) -> None:
        self.rooms[room.id] = room

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    def _ts(self) -> float:
        return self.now().timestamp()

    def bots_in(self, room_id: str) -> list[Listener]:
        """The puppets of the bots in the room now, in the order the bots entered the world."""
        room = self.rooms.get(room_id)
        members = set(room.member_ids) if room is not None else set()
        return [p for bot_id, p in self.listeners.items() if bot_id in members]

    # ------------------------------------------------------------ events

    def say(
        self,
        talker_id: str,
        text: str,
        room_id: str | None = None,
        mention_ids: list[str] | None = None,
        message_type: Any = None,
        to: str | None = None,
    ) -> dict[str, str]:
        """A person writes in a room, or privately to bot `to` (default: the first bot).
        Returns bot id -> the id of the copy that bot got."""
        if room_id:
            receivers = self.bots_in(room_id)
        else:
            bot_id = to if to is not None else next(iter(self.listeners))
            receivers = [self.listeners[bot_id]]
        ids: dict[str, str] = {}
        for puppet in receivers:
            msg_id = self.next_id("sim-msg")
            self.messages[msg_id] = MessagePayload(
                id=msg_id,
                text=text,
                timestamp=int(self._ts()),
                type=message_type if message_type is not None else MessageType.MESSAGE_TYPE_TEXT,
                from_id=talker_id,
                room_id=room_id or "",
                to_id="" if room_id else puppet.bot_id,
                mention_ids=list(mention_ids or []),
            )
            puppet.emit_raw("message", {"messageId": msg_id})
            ids[puppet.bot_id] = msg_id
        return ids

    def join(self, room_id: str, member_ids: list[str], by: str | None) -> None:
        room = self.rooms[room_id]
        for m in member_ids:
            if m not in room.member_ids:
                room.member_ids.append(m)
        event = {
            "roomId": room_id,
            "inviteeIdList": member_ids,
            "inviterId": by or member_ids[0],
            "timestamp": self._ts(),
        }
        for puppet in self.bots_in(room_id):
            puppet.emit_raw("room-join", event)

    def leave(self, room_id: str, member_ids: list[str], by: str | None) -> None:
        told = self.bots_in(room_id)  # before: the removed bots are told too
        room = self.rooms[room_id]
        room.member_ids = [m for m in room.member_ids if m not in member_ids]
        event = {
            "roomId": room_id,
            "removeeIdList": member_ids,
            "removerId": by or member_ids[0],
            "timestamp": self._ts(),
        }
        for puppet in told:
            puppet.emit_raw("room-leave", event)

    def change_topic(self, room_id: str, topic: str, by: str) -> None:
        room = self.rooms[room_id]
        old, room.topic = room.topic, topic
        event = {
            "roomId": room_id,
            "newTopic": topic,
            "oldTopic": old,
            "changerId": by,
            "timestamp": self._ts(),
        }
        for puppet in self.bots_in(room_id):
            puppet.emit_raw("room-topic", event)

    def dissolve(self, room_id: str, by: str) -> None:
        """Disbanding removes everybody, the bots included."""
        told = self.bots_in(room_id)
        room = self.rooms[room_id]
        everyone = list(room.member_ids)
        room.member_ids, room.alive = [], False
        event = {"roomId": room_id, "removeeIdList": everyone, "removerId": by, "timestamp": self._ts()}
        for puppet in told:
            puppet.emit_raw("room-leave", event)

    # ------------------------------------------------------------ what the bots send

    def record(
        self,
        via: str,
        conversation_id: str,
        text: str,
        mention_ids: list[str],
        kind: MessageType,
        file_name: str | None = None,
        file_data: bytes | None = None,
    ) -> str:
        """Note a send by bot `via`; returns the id of its payload (`say()` loads it back)."""
        if conversation_id in self.refuse:
            raise OSError(f"gateway refused the send to {conversation_id}")
        is_room = conversation_id in self.rooms
        at = self.now()
        self.sent.append(
            SentMessage(
                at,
                conversation_id,
                conversation_id if is_room else None,
                None if is_room else conversation_id,
                text,
                tuple(mention_ids),
                file_name,
                file_data,
                via,
            )
        )
        msg_id = self.next_id("sim-out")
        self.messages[msg_id] = MessagePayload(
            id=msg_id,
            text=text,
            timestamp=int(at.timestamp()),
            type=kind,
            from_id=via,
            room_id=conversation_id if is_room else "",
            to_id="" if is_room else conversation_id,
            mention_ids=list(mention_ids),
        )
        return msg_id
