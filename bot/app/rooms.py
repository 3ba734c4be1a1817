"""Room lifecycle: enrol, joins and leaves, topic changes, the greeting on invite.

The transport calls these with frozen values; nothing here knows wechaty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from loguru import logger
from sqlmodel import Session

from bot.core.domain import ContactInfo, OutgoingMessage, RoomSnapshot
from bot.core.wording import account_full, greeting
from bot.services.context import AppContext
from storage import accounts as accounts_db
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
        """What this account's contact list says of people: names, and whose friend it is."""
        me = self.ctx.bot_id
        with session_scope(self.ctx.engine) as s:
            for info in infos:
                if self.ctx.fleet.is_bot(info.contact_id):
                    continue
                if me is None:
                    directory_db.upsert_contact(
                        s, contact_id=info.contact_id, name=info.name, friend=info.friend
                    )
                    continue
                directory_db.upsert_contact(s, contact_id=info.contact_id, name=info.name)
                s.flush()
                accounts_db.note_friendship(s, contact_id=info.contact_id, account_id=me, friend=info.friend)

    def backfill(self, rooms: Sequence[RoomSnapshot], at: datetime, *, greet_new: bool = False) -> None:
        """At login (and at each later check of the room list): enrol every room the bot is in.

        A room new to us is greeted when `greet_new` (a re-login: the bot was added while away;
        not the first login of a deployment, which would greet every group at once). A room the
        list lacks is not taken as gone at once: a puppet still syncing may list nothing. This
        account's presence is "unconfirmed" (`missing_since`) and ends only when a check at least
        `removal_grace` seconds later still misses the room; the room counts as removed when no
        account is left in it. Rooms recorded before accounts were (no presence at all) follow
        the same rule on the room itself.
        """
        seen = {r.room_id for r in rooms}
        grace = timedelta(seconds=self.ctx.settings.removal_grace)
        me = self.ctx.bot_id
        with session_scope(self.ctx.engine) as s:
            for snap in rooms:
                room, fresh = self._enrol(s, snap, None, at)
                room.missing_since = None
                if fresh:
                    eventlog_db.log_event(s, kind="enrolled", at=at, room_id=room.id, detail={"via": "login"})
                    if greet_new:
                        self._greet(s, room, at)
            mine = {p.room_id: p for p in accounts_db.presence_rows(s, account_id=me)} if me else {}
            for room_id, presence in mine.items():
                if room_id in seen:
                    presence.missing_since = None
                    continue
                listed = rooms_db.get_room(s, room_id=room_id)
                if listed is None or listed.status != "active" or me is None:
                    continue
                if presence.missing_since is None:
                    presence.missing_since = at
                    eventlog_db.log_event(s, kind="missing_at_login", at=at, room_id=room_id, actor_id=me)
                elif at - presence.missing_since >= grace:
                    eventlog_db.log_event(s, kind="missing_confirmed", at=at, room_id=room_id, actor_id=me)
                    self._account_out(s, listed, me, None, at)
                s.flush()
                # The room is unconfirmed while no account in it has seen it since.
                missing = listed.status == "active" and accounts_db.all_missing(s, room_id=room_id)
                listed.missing_since = (listed.missing_since or at) if missing else None
            present = accounts_db.rooms_with_presence(s)
            for room in rooms_db.all_rooms(s):
                if room.status != "active" or room.id in seen or room.id in present:
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
        self.ctx.fleet.refresh(self.ctx.engine)
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
        me = self.ctx.bot_id
        if me is not None:
            accounts_db.enter_room(s, room=room, account_id=me, at=at)
            self.ctx.fleet.observers[room.id] = room.observer_id
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
            self._say_if_full(s, room, at)
        logger.info("enrolled room {} (invited by {})", snap.room_id, inviter_id)

    def _say_if_full(self, s: Session, room: Room, at: datetime) -> None:
        """An account already at its room limit asks the group to invite another account instead."""
        me = self.ctx.bot_id
        if me is None:
            return
        counts = accounts_db.room_counts(s)
        limit = self.ctx.settings.room_limit
        if counts.get(me, 0) <= limit:  # this room is counted already: "at the limit" before it
            return
        spare = [
            (a.room_limit - counts.get(a.id, 0), a.name or a.id, a.id)
            for a in accounts_db.all_accounts(s)
            if a.id != me and counts.get(a.id, 0) < a.room_limit
        ]
        other = max(spare)[1:] if spare else None
        self.ctx.outbox.enqueue(
            OutgoingMessage(
                dedupe_key=f"room:{room.id}|account_full|{me}|{at.isoformat()}",
                text=account_full(self.ctx.settings.bot_name, counts[me], limit, other),
                kind="hint",
                period=at.date().isoformat(),
                room_id=room.id,
            ),
            session=s,
        )
        logger.warning("account {} is over its room limit ({}/{})", me, counts[me], limit)

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

    def _observed_elsewhere(self, room_id: str) -> bool:
        """Another account observes this room: its events are recorded there, once."""
        return not self.ctx.fleet.observes(room_id, self.ctx.bot_id)

    def members_joined(
        self, snap: RoomSnapshot, joined: Sequence[str], inviter_id: str | None, at: datetime
    ) -> None:
        people = [m for m in joined if not self.ctx.fleet.is_bot(m)]
        if not people or self._observed_elsewhere(snap.room_id):
            return  # another bot account joining is its own invite, handled by its process
        with session_scope(self.ctx.engine) as s:
            room = rooms_db.get_room(s, room_id=snap.room_id)
            if room is None or room.status != "active":
                if not snap.bot_present:
                    logger.info("join event for room {} the bot is not in: ignored", snap.room_id)
                    return
                # A join in a room we never enrolled while the bot is a member: enrol it.
                room, _ = self._enrol(s, snap, None, at)
            else:
                rooms_db.add_members(s, room=room, member_ids=people, at=at)
                if snap.owner_id:
                    room.owner_id = snap.owner_id
            eventlog_db.log_event(
                s, kind="members_joined", at=at, room_id=room.id, actor_id=inviter_id, subjects=people
            )

    def members_left(self, room_id: str, left: Sequence[str], remover_id: str | None, at: datetime) -> None:
        bots = [m for m in left if self.ctx.fleet.is_bot(m)]
        people = [m for m in left if m not in bots]
        with session_scope(self.ctx.engine) as s:
            room = rooms_db.get_room(s, room_id=room_id)
            if room is None:
                logger.info("leave event for unknown room {}: ignored", room_id)
                return
            for account in bots:  # seen from here first, the other account's own process agrees
                self._account_out(s, room, account, remover_id, at)
            if bots:  # whoever handed over, this process now knows who observes the room
                self.ctx.fleet.observers[room_id] = room.observer_id
            if not people or self._observed_elsewhere(room_id):
                return
            rooms_db.remove_members(s, room=room, member_ids=people, at=at)
            eventlog_db.log_event(
                s, kind="members_left", at=at, room_id=room_id, actor_id=remover_id, subjects=people
            )

    def bot_left(self, room_id: str, remover_id: str | None, at: datetime, dissolved: bool) -> None:
        """This account is out: either the group was disbanded, or someone removed it."""
        me = self.ctx.bot_id
        with session_scope(self.ctx.engine) as s:
            room = rooms_db.get_room(s, room_id=room_id)
            if room is None:
                logger.info("bot left unknown room {}: ignored", room_id)
                return
            if dissolved:
                if room.status != "dissolved":
                    rooms_db.remove_members(
                        s, room=room, member_ids=rooms_db.current_member_ids(s, room_id=room_id), at=at
                    )
                    rooms_db.set_status(s, room=room, status="dissolved", at=at)
                    eventlog_db.log_event(
                        s, kind="room_dissolved", at=at, room_id=room_id, actor_id=remover_id
                    )
                if me is not None:
                    accounts_db.leave_room(s, room=room, account_id=me)
                room.missing_since = None
            elif me is not None and accounts_db.is_present(s, room_id=room_id, account_id=me):
                self._account_out(s, room, me, remover_id, at)
            elif room.status == "active" and not accounts_db.present_accounts(s, room_id=room_id):
                self._gone(s, room, remover_id, at)  # recorded before accounts were: as it was
            self.ctx.fleet.observers[room_id] = room.observer_id
            if room.status != "active":
                self.active_rooms().discard(room_id)
        logger.info("account {} is out of room {} (now {})", me or "-", room_id, room.status)

    def _account_out(
        self, s: Session, room: Room, account: str, remover_id: str | None, at: datetime
    ) -> None:
        """`account` left `room`: hand observing over; with no account left the room is removed."""
        if room.status != "active" or not accounts_db.is_present(s, room_id=room.id, account_id=account):
            return
        observer = accounts_db.leave_room(s, room=room, account_id=account)
        self.ctx.fleet.observers[room.id] = observer
        if observer is None:
            self._gone(s, room, remover_id, at)
            self.active_rooms().discard(room.id)
        else:
            eventlog_db.log_event(
                s,
                kind="account_left",
                at=at,
                room_id=room.id,
                actor_id=remover_id,
                subjects=[account],
                detail={"observer": observer},
            )

    def _gone(self, s: Session, room: Room, remover_id: str | None, at: datetime) -> None:
        rooms_db.set_status(s, room=room, status="removed", at=at)
        room.missing_since = None
        eventlog_db.log_event(s, kind="room_removed", at=at, room_id=room.id, actor_id=remover_id)

    def topic_changed(self, room_id: str, new_topic: str, changer_id: str | None, at: datetime) -> None:
        if self._observed_elsewhere(room_id):
            return
        with session_scope(self.ctx.engine) as s:
            room = rooms_db.get_room(s, room_id=room_id)
            if room is None:
                logger.info("topic change for unknown room {}: ignored", room_id)
                return
            rooms_db.change_topic(s, room=room, new_topic=new_topic, by=changer_id, at=at)
            eventlog_db.log_event(s, kind="topic_changed", at=at, room_id=room_id, actor_id=changer_id)
