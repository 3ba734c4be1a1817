"""Room lifecycle: enrol, joins and leaves, topic changes, the greeting on invite.

The transport calls these with frozen values; nothing here knows wechaty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from loguru import logger
from sqlmodel import Session

from bot.core.domain import ContactInfo, OutgoingMessage, RoomSnapshot
from bot.core.wording import greeting
from bot.services.context import AppContext
from storage import directory as directory_db
from storage import eventlog as eventlog_db
from storage import rooms as rooms_db
from storage.db import session_scope
from storage.models import Contact, Room


class RoomLifecycle:
    """Keeps the stored rooms in step with what WeChat reports; caches the active room ids."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._room_created: dict[str, date] = {}
        self._active_rooms: set[str] | None = None

    def set_room_created(self, created: Mapping[str, date]) -> None:
        """Creation dates the roster knows (WeChat does not say when a group was made)."""
        self._room_created = dict(created)

    def note_contacts(self, infos: Sequence[ContactInfo]) -> None:
        with session_scope(self.ctx.engine) as s:
            for info in infos:
                directory_db.upsert_contact(s, contact_id=info.contact_id, name=info.name, friend=info.friend)

    def backfill(self, rooms: Sequence[RoomSnapshot], at: datetime, *, greet_new: bool = False) -> None:
        """At login (and at each later check of the room list): enrol every room the bot is in.

        A room new to us is greeted when `greet_new` (a re-login: the bot was added while away;
        not the first login of a deployment, which would greet every group at once). A room the
        list lacks is not taken as removed at once: a puppet still syncing may list nothing.
        It is "unconfirmed" (`missing_since`) and counts as removed only when a check at least
        `removal_grace` seconds later still misses it.
        """
        seen = {r.room_id for r in rooms}
        grace = timedelta(seconds=self.ctx.settings.removal_grace)
        with session_scope(self.ctx.engine) as s:
            for snap in rooms:
                room, fresh = self._enrol(s, snap, None, at)
                room.missing_since = None
                if fresh:
                    eventlog_db.log_event(s, kind="enrolled", at=at, room_id=room.id, detail={"via": "login"})
                    if greet_new:
                        self._greet(s, room, at)
            for room in rooms_db.all_rooms(s):
                if room.status != "active" or room.id in seen:
                    continue
                if room.missing_since is None:
                    room.missing_since = at
                    eventlog_db.log_event(s, kind="missing_at_login", at=at, room_id=room.id)
                elif at - room.missing_since >= grace:
                    rooms_db.set_status(s, room=room, status="removed", at=at)
                    room.missing_since = None
                    eventlog_db.log_event(s, kind="missing_confirmed", at=at, room_id=room.id)
            # Unconfirmed rooms stay active: their messages still count.
            self._active_rooms = {r.id for r in rooms_db.all_rooms(s) if r.status == "active"}
        logger.info("backfilled {} room(s) from the room list", len(rooms))

    def _enrol(self, s: Session, snap: RoomSnapshot, by: str | None, at: datetime) -> tuple[Room, bool]:
        room, fresh = rooms_db.enrol_room(
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
            with session_scope(self.ctx.engine) as s:
                self._active_rooms = {r.id for r in rooms_db.all_rooms(s) if r.status == "active"}
        return self._active_rooms

    def adopt_room(self, snap: RoomSnapshot, at: datetime) -> None:
        """A message from a room the bot is in but never enrolled (e.g. its backfill failed)."""
        with session_scope(self.ctx.engine) as s:
            room, _ = self._enrol(s, snap, None, at)
            eventlog_db.log_event(s, kind="enrolled", at=at, room_id=room.id, detail={"via": "message"})
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
        with session_scope(self.ctx.engine) as s:
            room, fresh = self._enrol(s, snap, inviter_id, at)
            room.missing_since = None
            eventlog_db.log_event(s, kind="bot_invited", at=at, room_id=room.id, actor_id=inviter_id)
            if fresh:
                self._greet(s, room, at)
        logger.info("enrolled room {} (invited by {})", snap.room_id, inviter_id)

    def _greet(self, s: Session, room: Room, at: datetime) -> None:
        today = at.astimezone(self.ctx.tz).date()
        self.ctx.outbox.enqueue(
            OutgoingMessage(
                dedupe_key=f"room:{room.id}|greeting|{at.isoformat()}",
                text=greeting(self.ctx.settings.bot_name, today),
                kind="greeting",
                period=at.date().isoformat(),
                room_id=room.id,
            ),
            session=s,
        )

    def members_joined(
        self, snap: RoomSnapshot, joined: Sequence[str], inviter_id: str | None, at: datetime
    ) -> None:
        with session_scope(self.ctx.engine) as s:
            room = rooms_db.get_room(s, room_id=snap.room_id)
            if room is None or room.status != "active":
                if not snap.bot_present:
                    logger.info("join event for room {} the bot is not in: ignored", snap.room_id)
                    return
                # A join in a room we never enrolled while the bot is a member: enrol it.
                room, _ = self._enrol(s, snap, None, at)
            else:
                rooms_db.add_members(s, room=room, member_ids=joined, at=at)
                if snap.owner_id:
                    room.owner_id = snap.owner_id
            eventlog_db.log_event(
                s, kind="members_joined", at=at, room_id=room.id, actor_id=inviter_id, subjects=joined
            )

    def members_left(self, room_id: str, left: Sequence[str], remover_id: str | None, at: datetime) -> None:
        with session_scope(self.ctx.engine) as s:
            room = rooms_db.get_room(s, room_id=room_id)
            if room is None:
                logger.info("leave event for unknown room {}: ignored", room_id)
                return
            rooms_db.remove_members(s, room=room, member_ids=left, at=at)
            eventlog_db.log_event(
                s, kind="members_left", at=at, room_id=room_id, actor_id=remover_id, subjects=left
            )

    def bot_left(self, room_id: str, remover_id: str | None, at: datetime, dissolved: bool) -> None:
        """The bot is out: either the group was disbanded, or someone removed the bot."""
        status = "dissolved" if dissolved else "removed"
        with session_scope(self.ctx.engine) as s:
            room = rooms_db.get_room(s, room_id=room_id)
            if room is None:
                logger.info("bot left unknown room {}: ignored", room_id)
                return
            if dissolved:
                rooms_db.remove_members(
                    s, room=room, member_ids=rooms_db.current_member_ids(s, room_id=room_id), at=at
                )
            rooms_db.set_status(s, room=room, status=status, at=at)
            room.missing_since = None
            self.active_rooms().discard(room_id)
            eventlog_db.log_event(s, kind=f"room_{status}", at=at, room_id=room_id, actor_id=remover_id)
        logger.info("room {} is now {}", room_id, status)

    def topic_changed(self, room_id: str, new_topic: str, changer_id: str | None, at: datetime) -> None:
        with session_scope(self.ctx.engine) as s:
            room = rooms_db.get_room(s, room_id=room_id)
            if room is None:
                logger.info("topic change for unknown room {}: ignored", room_id)
                return
            rooms_db.change_topic(s, room=room, new_topic=new_topic, by=changer_id, at=at)
            eventlog_db.log_event(s, kind="topic_changed", at=at, room_id=room_id, actor_id=changer_id)
