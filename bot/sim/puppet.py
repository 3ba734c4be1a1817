"""An in-process puppet: a `wechaty_puppet.Puppet` subclass that feeds scripted events to the
real `Wechaty` class, so simulation, the demo and the tests exercise the real python-wechaty stack.

Events are built the way python-wechaty's PuppetService builds them from the gateway's JSON, so
a malformed event behaves as it would on the wire (and meets the same guard).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyee.asyncio import AsyncIOEventEmitter
from wechaty_puppet import Puppet, PuppetOptions
from wechaty_puppet.schemas.event import (
    EventLoginPayload,
    EventMessagePayload,
    EventRoomJoinPayload,
    EventRoomLeavePayload,
    EventRoomTopicPayload,
)
from wechaty_puppet.schemas.types import (
    ContactPayload,
    EventType,
    MessagePayload,
    MessageType,
    RoomMemberPayload,
    RoomPayload,
)

WireGuard = Callable[[int, str], str | None]

# EventType numbers of the puppet-service protocol.
WIRE_TYPES = {
    "message": int(EventType.EVENT_TYPE_MESSAGE),
    "room-join": int(EventType.EVENT_TYPE_ROOM_JOIN),
    "room-leave": int(EventType.EVENT_TYPE_ROOM_LEAVE),
    "room-topic": int(EventType.EVENT_TYPE_ROOM_TOPIC),
}


@dataclass
class SimContact:
    id: str
    name: str
    friend: bool = True


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


class SimPuppet(Puppet):  # type: ignore[misc]
    """Holds a small WeChat world and emits events into whichever Wechaty is listening."""

    def __init__(
        self, bot_id: str, bot_name: str, now: Callable[[], datetime], wire_guard: WireGuard | None = None
    ):
        super().__init__(options=PuppetOptions(), name="sim")
        self.bot_id = bot_id
        self.now = now
        self.wire_guard = wire_guard
        self.contacts: dict[str, SimContact] = {bot_id: SimContact(bot_id, bot_name)}
        self.rooms: dict[str, SimRoom] = {}
        self.messages: dict[str, MessagePayload] = {}
        self.sent: list[SentMessage] = []
        self.refuse: set[str] = set()  # conversation ids whose sends fail, for failure tests
        self._emitter = AsyncIOEventEmitter()
        self._stopped = asyncio.Event()
        self._ids = itertools.count(1)
        self.login_user_id: str | None = None
        self.syncing = False

    # ------------------------------------------------------------ world edits

    def add_contact(self, contact_id: str, name: str, friend: bool = True) -> None:
        self.contacts[contact_id] = SimContact(contact_id, name, friend)

    def add_room(self, room: SimRoom) -> None:
        self.rooms[room.id] = room

    def _ts(self) -> float:
        return self.now().timestamp()

    def _wire(self, name: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Pass the event through the same JSON guard the live gateway stream gets."""
        if self.wire_guard is None:
            return data
        fixed = self.wire_guard(WIRE_TYPES[name], json.dumps(data))
        return None if fixed is None else dict(json.loads(fixed))

    def emit_raw(self, name: str, data: dict[str, Any]) -> None:
        """Emit a gateway-shaped event; builds payloads exactly as PuppetService does."""
        wire = self._wire(name, data)
        if wire is None:
            return
        if name == "message":
            self._emitter.emit("message", EventMessagePayload(message_id=wire["messageId"]))
        elif name == "room-join":
            self._emitter.emit(
                "room-join",
                EventRoomJoinPayload(
                    invited_ids=wire.get("inviteeIdList", []),
                    inviter_id=wire.get("inviterId"),
                    room_id=wire.get("roomId"),
                    timestamp=wire.get("timestamp"),
                ),
            )
        elif name == "room-leave":
            self._emitter.emit(
                "room-leave",
                EventRoomLeavePayload(
                    removed_ids=wire.get("removeeIdList", []),
                    remover_id=wire.get("removerId"),
                    room_id=wire.get("roomId"),
                    timestamp=wire.get("timestamp"),
                ),
            )
        elif name == "room-topic":
            self._emitter.emit(
                "room-topic",
                EventRoomTopicPayload(
                    changer_id=wire.get("changerId"),
                    new_topic=wire.get("newTopic"),
                    old_topic=wire.get("oldTopic"),
                    room_id=wire.get("roomId"),
                    timestamp=wire.get("timestamp"),
                ),
            )
        else:
            raise ValueError(f"unsupported raw event {name!r}")

    def say(
        self,
        talker_id: str,
        text: str,
        room_id: str | None = None,
        mention_ids: list[str] | None = None,
        message_type: Any = None,
    ) -> str:
        msg_id = f"sim-msg-{next(self._ids)}"
        self.messages[msg_id] = MessagePayload(
            id=msg_id,
            text=text,
            timestamp=int(self._ts()),
            type=message_type if message_type is not None else MessageType.MESSAGE_TYPE_TEXT,
            from_id=talker_id,
            room_id=room_id or "",
            to_id="" if room_id else self.bot_id,
            mention_ids=list(mention_ids or []),
        )
        self.emit_raw("message", {"messageId": msg_id})
        return msg_id

    def join(self, room_id: str, member_ids: list[str], by: str | None) -> None:
        room = self.rooms[room_id]
        for m in member_ids:
            if m not in room.member_ids:
                room.member_ids.append(m)
        self.emit_raw(
            "room-join",
            {
                "roomId": room_id,
                "inviteeIdList": member_ids,
                "inviterId": by or member_ids[0],
                "timestamp": self._ts(),
            },
        )

    def leave(self, room_id: str, member_ids: list[str], by: str | None) -> None:
        room = self.rooms[room_id]
        room.member_ids = [m for m in room.member_ids if m not in member_ids]
        self.emit_raw(
            "room-leave",
            {
                "roomId": room_id,
                "removeeIdList": member_ids,
                "removerId": by or member_ids[0],
                "timestamp": self._ts(),
            },
        )

    def change_topic(self, room_id: str, topic: str, by: str) -> None:
        room = self.rooms[room_id]
        old, room.topic = room.topic, topic
        self.emit_raw(
            "room-topic",
            {"roomId": room_id, "newTopic": topic, "oldTopic": old, "changerId": by, "timestamp": self._ts()},
        )

    def dissolve(self, room_id: str, by: str) -> None:
        """Disbanding removes everybody, the bot included."""
        room = self.rooms[room_id]
        everyone = list(room.member_ids)
        room.member_ids, room.alive = [], False
        self.emit_raw(
            "room-leave",
            {"roomId": room_id, "removeeIdList": everyone, "removerId": by, "timestamp": self._ts()},
        )

    # ------------------------------------------------------------ Puppet API used by Wechaty

    def on(self, event_name: str, caller: Any) -> None:
        self._emitter.on(event_name, caller)

    def listener_count(self, event_name: str) -> int:
        return len(self._emitter.listeners(event_name))

    async def start(self) -> None:
        self._stopped.clear()
        self.login_user_id = self.bot_id
        self._emitter.emit("login", EventLoginPayload(contact_id=self.bot_id))
        await self._stopped.wait()

    async def stop(self) -> None:
        """Like PuppetService.stop(): the event stream ends and its listeners go."""
        self._stopped.set()
        self._emitter.remove_all_listeners()

    def drop_connection(self) -> None:
        """The gateway went away: the event stream ends (the world itself stays)."""
        self._stopped.set()

    def self_id(self) -> str:
        return self.bot_id

    async def ding(self, data: str | None = None) -> None:
        self._emitter.emit("dong", data)

    async def contact_list(self) -> list[str]:
        return list(self.contacts)

    async def contact_payload(self, contact_id: str) -> ContactPayload:
        c = self.contacts.get(contact_id)
        if c is None:
            raise OSError(f"unknown contact {contact_id}")
        return ContactPayload(id=c.id, name=c.name, friend=c.friend)

    async def room_search(self, query: Any = None) -> list[str]:
        if self.syncing:  # a puppet still syncing after login lists no rooms yet
            return []
        return [r.id for r in self.rooms.values() if r.alive and self.bot_id in r.member_ids]

    async def room_list(self) -> list[str]:
        return await self.room_search()

    async def room_payload(self, room_id: str) -> RoomPayload:
        r = self.rooms.get(room_id)
        if r is None:
            raise OSError(f"unknown room {room_id}")
        return RoomPayload(
            id=r.id,
            topic=r.topic,
            owner_id=r.owner_id,
            admin_ids=list(r.admin_ids),
            member_ids=list(r.member_ids),
        )

    async def room_members(self, room_id: str) -> list[str]:
        return list((await self.room_payload(room_id)).member_ids)

    async def room_member_payload(self, room_id: str, contact_id: str) -> RoomMemberPayload:
        c = self.contacts.get(contact_id)
        return RoomMemberPayload(id=contact_id, name=c.name if c else contact_id)

    async def message_payload(self, message_id: str) -> MessagePayload:
        return self.messages[message_id]

    async def message_send_text(
        self, conversation_id: str, message: str, mention_ids: list[str] | None = None
    ) -> str:
        return self._record(conversation_id, message, mention_ids or [], MessageType.MESSAGE_TYPE_TEXT)

    async def message_send_file(self, conversation_id: str, file: Any) -> str:
        """Decode the FileBox from the JSON the gateway would receive, and keep its bytes."""
        box = json.loads(file.to_json_str())
        if box.get("type", box.get("boxType")) != 1:  # file-box's Base64; the only kind we send
            raise OSError(f"unsupported file box {box.get('type')!r}")
        name, data = str(box["name"]), base64.b64decode(box["base64"], validate=True)
        image = str(box.get("mediaType") or "").startswith("image/")
        kind = MessageType.MESSAGE_TYPE_IMAGE if image else MessageType.MESSAGE_TYPE_ATTACHMENT
        return self._record(conversation_id, "", [], kind, file_name=name, file_data=data)

    def _record(
        self,
        conversation_id: str,
        text: str,
        mention_ids: list[str],
        kind: MessageType,
        file_name: str | None = None,
        file_data: bytes | None = None,
    ) -> str:
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
            )
        )
        msg_id = f"sim-out-{next(self._ids)}"
        self.messages[msg_id] = MessagePayload(
            id=msg_id,
            text=text,
            timestamp=int(at.timestamp()),
            type=kind,
            from_id=self.bot_id,
            room_id=conversation_id if is_room else "",
            to_id="" if is_room else conversation_id,
            mention_ids=list(mention_ids),
        )
        return msg_id
