"""An in-process puppet: a `wechaty_puppet.Puppet` subclass that feeds scripted events to the
real `Wechaty` class, so simulation, the demo and the tests exercise the real python-wechaty stack.

Events are built the way python-wechaty's PuppetService builds them from the gateway's JSON, so
a malformed event behaves as it would on the wire (and meets the same guard). One puppet serves
one bot account; several share one `SimWorld` (bot.sim.world) and see the same rooms.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterable
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

from bot.sim.world import SentMessage, SimContact, SimRoom, SimWorld

__all__ = ["SentMessage", "SimContact", "SimPuppet", "SimRoom", "SimWorld", "WireGuard"]

WireGuard = Callable[[int, str], str | None]

# EventType numbers of the puppet-service protocol.
WIRE_TYPES = {
    "message": int(EventType.EVENT_TYPE_MESSAGE),
    "room-join": int(EventType.EVENT_TYPE_ROOM_JOIN),
    "room-leave": int(EventType.EVENT_TYPE_ROOM_LEAVE),
    "room-topic": int(EventType.EVENT_TYPE_ROOM_TOPIC),
}


class SimPuppet(Puppet):  # type: ignore[misc]
    """One bot account's view of a `SimWorld`; emits its events into whichever Wechaty listens.

    Without `world`, the puppet makes a world of its own (one bot, as before several accounts)."""

    def __init__(
        self,
        bot_id: str,
        bot_name: str,
        now: Callable[[], datetime],
        wire_guard: WireGuard | None = None,
        *,
        world: SimWorld | None = None,
    ):
        super().__init__(options=PuppetOptions(), name="sim")
        self.bot_id = bot_id
        self.now = now
        self.wire_guard = wire_guard
        self.world = world if world is not None else SimWorld(now)
        self.world.attach(self, bot_name)
        self._emitter = AsyncIOEventEmitter()
        self._stopped = asyncio.Event()
        self.login_user_id: str | None = None
        self.syncing = False

    # The shared world, under the names a one-bot puppet always had.
    @property
    def contacts(self) -> dict[str, SimContact]:
        return self.world.contacts

    @property
    def rooms(self) -> dict[str, SimRoom]:
        return self.world.rooms

    @property
    def messages(self) -> dict[str, MessagePayload]:
        return self.world.messages

    @property
    def sent(self) -> list[SentMessage]:
        return self.world.sent

    @property
    def refuse(self) -> set[str]:
        return self.world.refuse

    # ------------------------------------------------------------ world edits (shared)

    def add_contact(
        self, contact_id: str, name: str, friend: bool = True, friend_of: Iterable[str] | None = None
    ) -> None:
        self.world.add_contact(contact_id, name, friend, friend_of)

    def add_room(self, room: SimRoom) -> None:
        self.world.add_room(room)

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
    ) -> str | None:
        """A person writes in a room (every bot in it is told) or privately to this bot.
        Returns the id of this bot's copy (None: this bot is not in the room)."""
        return self.world.say(talker_id, text, room_id, mention_ids, message_type, to=self.bot_id).get(
            self.bot_id
        )

    def join(self, room_id: str, member_ids: list[str], by: str | None) -> None:
        self.world.join(room_id, member_ids, by)

    def leave(self, room_id: str, member_ids: list[str], by: str | None) -> None:
        self.world.leave(room_id, member_ids, by)

    def change_topic(self, room_id: str, topic: str, by: str) -> None:
        self.world.change_topic(room_id, topic, by)

    def dissolve(self, room_id: str, by: str) -> None:
        self.world.dissolve(room_id, by)

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
        return ContactPayload(id=c.id, name=c.name, friend=c.is_friend_of(self.bot_id))

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
        return self.world.record(
            self.bot_id, conversation_id, message, mention_ids or [], MessageType.MESSAGE_TYPE_TEXT
        )

    async def message_send_file(self, conversation_id: str, file: Any) -> str:
        """Decode the FileBox from the JSON the gateway would receive, and keep its bytes."""
        box = json.loads(file.to_json_str())
        if box.get("type", box.get("boxType")) != 1:  # file-box's Base64; the only kind we send
            raise OSError(f"unsupported file box {box.get('type')!r}")
        name, data = str(box["name"]), base64.b64decode(box["base64"], validate=True)
        image = str(box.get("mediaType") or "").startswith("image/")
        kind = MessageType.MESSAGE_TYPE_IMAGE if image else MessageType.MESSAGE_TYPE_ATTACHMENT
        return self.world.record(self.bot_id, conversation_id, "", [], kind, file_name=name, file_data=data)
