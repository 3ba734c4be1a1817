"""Use cases. The adapter calls these with frozen values; nothing here knows wechaty."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from loguru import logger
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.activity import ActivityRecorder
from bot.clock import Clock
from bot.config import Settings
from bot.domain import ChatMessage, ContactInfo, OutgoingMessage, RoomSnapshot
from bot.outbox import Outbox
from policies.rules import Rules, load_rules
from storage import repo
from storage.db import session_scope
from storage.models import Contact, Room


def greeting(bot_name: str) -> str:
    return (
        f"大家好，我是{bot_name}，协助本群做工作群清理登记。"
        "我只记录群名、成员和消息数量，从不保存聊天内容。"
        f"请群主@我发送“登记 临时 2026-12-31 用途”完成登记（类型：常设、临时、阶段性），"
        f"发送“@{bot_name} 帮助”查看全部指令。"
    )


@dataclass(frozen=True)
class Roster:
    """What the deployment knows beyond WeChat: the unit tree, people's units and roles."""

    units: Sequence[tuple[str, str | None]] = ()
    contacts: Sequence[tuple[str, str, str | None, str, bool]] = ()  # id, name, unit, role, friend
    room_created: Mapping[str, date] = field(default_factory=dict)


class App:
    """Holds the process's engine, clock, recorder and outbox; one session per unit of work."""

    def __init__(self, *, engine: Engine, settings: Settings, clock: Clock, seed: int | None = None):
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.bot_id: str | None = None
        self.recorder = ActivityRecorder(engine, settings.tz, settings.work_start, settings.work_end)
        self.outbox = Outbox(engine, clock, settings, seed=seed)
        # Validated once at start-up: a bad rule file stops the bot before it connects.
        self.rules: Rules = load_rules(settings.rules_file)
        self._room_created: dict[str, date] = {}
        self._active_rooms: set[str] | None = None

    # ------------------------------------------------------------ contacts and rooms

    def apply_roster(self, roster: Roster) -> None:
        with session_scope(self.engine) as s:
            for name, parent in roster.units:
                repo.upsert_unit(s, name=name, parent=parent)
            for cid, name, unit, role, friend in roster.contacts:
                repo.upsert_contact(s, contact_id=cid, name=name, unit=unit, role=role, friend=friend)
        self._room_created = dict(roster.room_created)

    def note_contacts(self, infos: Sequence[ContactInfo]) -> None:
        with session_scope(self.engine) as s:
            for info in infos:
                repo.upsert_contact(s, contact_id=info.contact_id, name=info.name, friend=info.friend)

    def backfill(self, rooms: Sequence[RoomSnapshot], at: datetime) -> None:
        """At login: enrol every room the bot is in; rooms it is no longer in were left while offline."""
        seen = {r.room_id for r in rooms}
        with session_scope(self.engine) as s:
            for snap in rooms:
                room, fresh = self._enrol(s, snap, None, at)
                if fresh:
                    repo.log_event(s, kind="enrolled", at=at, room_id=room.id, detail={"via": "login"})
            for room in repo.all_rooms(s):
                if room.status == "active" and room.id not in seen:
                    repo.set_status(s, room=room, status="removed", at=at)
                    repo.log_event(s, kind="missing_at_login", at=at, room_id=room.id)
        self._active_rooms = set(seen)
        logger.info("backfilled {} room(s) at login", len(rooms))

    def _enrol(self, s: Session, snap: RoomSnapshot, by: str | None, at: datetime) -> tuple[Room, bool]:
        room, fresh = repo.enrol_room(
            s,
            room_id=snap.room_id,
            topic=snap.topic,
            owner_id=snap.owner_id,
            admin_ids=snap.admin_ids,
            member_ids=snap.member_ids,
            by=by,
            at=at,
        )
        self._fill_known(s, room)
        self.active_rooms().add(room.id)
        return room, fresh

    def active_rooms(self) -> set[str]:
        """Ids of rooms enrolled and active, cached so the message path needs no query."""
        if self._active_rooms is None:
            with session_scope(self.engine) as s:
                self._active_rooms = {r.id for r in repo.all_rooms(s) if r.status == "active"}
        return self._active_rooms

    def adopt_room(self, snap: RoomSnapshot, at: datetime) -> None:
        """A message from a room the bot is in but never enrolled (e.g. its backfill failed)."""
        with session_scope(self.engine) as s:
            room, _ = self._enrol(s, snap, None, at)
            repo.log_event(s, kind="enrolled", at=at, room_id=room.id, detail={"via": "message"})
        logger.info("enrolled room {} on its first message", snap.room_id)

    def _fill_known(self, s: Session, room: Room) -> None:
        """What the roster knows and WeChat does not: the creation date, the owner's unit."""
        if room.created_on is None:
            room.created_on = self._room_created.get(room.id)
        if room.unit is None and room.owner_id:
            owner = s.get(Contact, room.owner_id)
            if owner is not None and owner.unit:
                room.unit = owner.unit

    def bot_invited(self, snap: RoomSnapshot, inviter_id: str | None, at: datetime) -> None:
        """The bot was added: enrol the room and greet it once."""
        with session_scope(self.engine) as s:
            room, fresh = self._enrol(s, snap, inviter_id, at)
            repo.log_event(s, kind="bot_invited", at=at, room_id=room.id, actor_id=inviter_id)
            if fresh:
                self.outbox.enqueue(
                    OutgoingMessage(
                        dedupe_key=f"room:{room.id}|greeting|{at.isoformat()}",
                        text=greeting(self.settings.bot_name),
                        kind="greeting",
                        period=at.date().isoformat(),
                        room_id=room.id,
                    ),
                    session=s,
                )
        logger.info("enrolled room {} (invited by {})", snap.room_id, inviter_id)

    def members_joined(
        self, snap: RoomSnapshot, joined: Sequence[str], inviter_id: str | None, at: datetime
    ) -> None:
        with session_scope(self.engine) as s:
            room = repo.get_room(s, room_id=snap.room_id)
            if room is None or room.status != "active":
                if not snap.bot_present:
                    logger.info("join event for room {} the bot is not in: ignored", snap.room_id)
                    return
                # A join in a room we never enrolled while the bot is a member: enrol it.
                room, _ = self._enrol(s, snap, None, at)
            else:
                repo.add_members(s, room=room, member_ids=joined, at=at)
                if snap.owner_id:
                    room.owner_id = snap.owner_id
            repo.log_event(
                s, kind="members_joined", at=at, room_id=room.id, actor_id=inviter_id, subjects=joined
            )

    def members_left(self, room_id: str, left: Sequence[str], remover_id: str | None, at: datetime) -> None:
        with session_scope(self.engine) as s:
            room = repo.get_room(s, room_id=room_id)
            if room is None:
                logger.info("leave event for unknown room {}: ignored", room_id)
                return
            repo.remove_members(s, room=room, member_ids=left, at=at)
            repo.log_event(s, kind="members_left", at=at, room_id=room_id, actor_id=remover_id, subjects=left)

    def bot_left(self, room_id: str, remover_id: str | None, at: datetime, dissolved: bool) -> None:
        """The bot is out: either the group was disbanded, or someone removed the bot."""
        status = "dissolved" if dissolved else "removed"
        with session_scope(self.engine) as s:
            room = repo.get_room(s, room_id=room_id)
            if room is None:
                logger.info("bot left unknown room {}: ignored", room_id)
                return
            if dissolved:
                repo.remove_members(
                    s, room=room, member_ids=repo.current_member_ids(s, room_id=room_id), at=at
                )
            repo.set_status(s, room=room, status=status, at=at)
            self.active_rooms().discard(room_id)
            repo.log_event(s, kind=f"room_{status}", at=at, room_id=room_id, actor_id=remover_id)
        logger.info("room {} is now {}", room_id, status)

    def topic_changed(self, room_id: str, new_topic: str, changer_id: str | None, at: datetime) -> None:
        with session_scope(self.engine) as s:
            room = repo.get_room(s, room_id=room_id)
            if room is None:
                logger.info("topic change for unknown room {}: ignored", room_id)
                return
            repo.change_topic(s, room=room, new_topic=new_topic, by=changer_id, at=at)
            repo.log_event(s, kind="topic_changed", at=at, room_id=room_id, actor_id=changer_id)

    # ------------------------------------------------------------ messages

    async def message(self, msg: ChatMessage) -> None:
        """Count room messages; hand text addressed to the bot to the command layer."""
        if msg.room_id is not None:
            self.recorder.record(msg.room_id, msg.talker_id, msg.at, msg.mention_all)
        if msg.command_text is not None:
            from bot.commands import dispatch

            dispatch(self, msg)

    def flush(self) -> int:
        return self.recorder.flush()
