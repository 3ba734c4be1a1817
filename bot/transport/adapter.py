"""The wechaty adapter: it turns wechaty events into frozen domain values for `bot.app.App`, and
implements the outbox's Transport with `say()`. With bot.sim, the transport is the only code
that imports wechaty.

Compat patches for python-wechaty 0.10.7 (unmaintained), each with its upstream issue:
* #422: Python >= 3.11 rejects `PuppetOptions()` as a dataclass default -> give it a hash before
  `import wechaty`, and always pass our own PuppetOptions.
* #397: no token -> start() prints an AttributeError and returns -> Settings.require_gateway().
* One malformed gateway event (e.g. room-join without timestamp) raises inside the event stream
  loop and silently ends start() -> bot.transport.guard repairs or drops bad events first.
* Room/Contact pools and the message-id set are process-global -> cleared per adapter.
* `Room.ready(force_sync=True)` is a no-op -> we read fresh payloads from the puppet directly.
* The plugin web server binds port 5000 by default -> port 0.
* Wechaty.start() catches a lost gateway connection, sleeps a fixed 60 s and restarts; a stream
  the gateway ends cleanly ends start() for good. And on a second login its plugin manager
  starts its own APScheduler again ("Scheduler is already running"), which aborts the login
  listener before ours runs: no backfill. -> We drive the connection ourselves (`_run`): connect,
  listen, and on any end reconnect with a backoff capped at `reconnect_max_delay`; we register
  no plugins, so the plugin manager's start (its scheduler, its web server) is skipped.
* Its scan listener prints its own terminal QR code for every scan event -> ours
  (bot.services.account.show_login_qr) prints, saves and logs it once per code.
* Sending a file: `FileBox.to_json_str()` reads FileBox's own deprecated `mimeType` property,
  whose getter calls `logging.Logger.warn` (itself deprecated): every send logs three "mimeType
  will be deprecated" warnings and raises DeprecationWarning, which fails the send wherever
  warnings are errors. -> `GatewayFileBox` (bot.transport.wire) writes the JSON of file-box 1.x
  (what the official gateway's `FileBox.fromJSON` reads: `type`, with the older `boxType` too)
  without that property.
* Its puppet-service start() runs `try: stub.stop() finally: stub.start()`: a cancel during the
  first is replaced by the second's connection error, so a task cancelled there carried on
  reconnecting (Ctrl-C during connect hung shutdown). grpclib cancels tasks itself without
  `uncancel()`, so `Task.cancelling()` cannot tell. -> `_run` awaits each library call as a child
  task (`_child`): our own cancel always reaches us, and the child is cancelled in turn.
* The official gateway accepts gRPC messages of at most 4 MiB and python-wechaty has no streamed
  file send, so a file over ~3 MB fails there with RESOURCE_EXHAUSTED -> `OutgoingFile` refuses
  such files when they are queued (`MAX_FILE_BYTES`), long before the gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

import wechaty_puppet.schemas.puppet as _puppet_schema

if getattr(_puppet_schema.PuppetOptions, "__hash__", None) is None:
    _puppet_schema.PuppetOptions.__hash__ = object.__hash__

import wechaty.wechaty as wechaty_module
from loguru import logger
from wechaty import Contact, Message, Room, Wechaty, WechatyOptions
from wechaty.utils.async_helper import SingleIdContainer
from wechaty_puppet import Puppet, PuppetOptions
from wechaty_puppet.schemas.event import ScanStatus
from wechaty_puppet.schemas.types import MessageType

from bot.app import App, WrongAccount
from bot.core.domain import ChatMessage, ContactInfo, RoomSnapshot
from bot.core.logs import tame_library_loggers
from bot.core.textnorm import clean_name
from bot.services.outbox import Delivery, SendError
from bot.transport.wire import MENTION_ALL_IDS, file_box, names_bot, strip_mention, utc_of

tame_library_loggers()

# Tasks that live as long as the connection: a simulation waiting for quiet skips them.
CONNECTION_TASK = "wechaty-connection"


async def _child(call: Coroutine[Any, Any, None], name: str = "wechaty-call") -> None:
    """Await a python-wechaty call as a child task, so a cancel of ours is never swallowed by it."""
    child = asyncio.create_task(call, name=name)
    try:
        await asyncio.wait({child})
    except asyncio.CancelledError:
        child.cancel()
        await asyncio.wait({child}, timeout=2)
        raise
    if child.cancelled():  # by the library itself, not by us: an ordinary failure to connect
        raise ConnectionError("the puppet call was cancelled from inside")
    child.result()


async def _no_plugins() -> None:
    """Stands in for Wechaty's plugin manager start: we have no plugins (see module doc)."""


def _no_terminal_qr(*_: Any, **__: Any) -> None:
    """Stands in for python-wechaty's own terminal QR code: ours shows it (see module doc)."""


wechaty_module.qr_terminal = _no_terminal_qr

# Scan statuses (wechaty_puppet.schemas.event.ScanStatus) that carry a code to show.
_SHOW_QR = {ScanStatus.Waiting.value, ScanStatus.Timeout.value}


class WechatyAdapter:
    """Binds one Wechaty instance to the App. Also the outbox's Transport."""

    def __init__(self, app: App, puppet: Puppet, *, recheck_rooms: bool = False) -> None:
        """`recheck_rooms`: after each login, read the room list again once the removal grace has
        passed, then hourly (the live bot; a simulation's world does not drift behind its back)."""
        self.app = app
        self.recheck_rooms = recheck_rooms
        # Process-global caches would hand this bot another bot's objects.
        Room._pool.clear()
        Contact._pool.clear()
        SingleIdContainer._instance = None
        self.bot = Wechaty(WechatyOptions(puppet=puppet, puppet_options=PuppetOptions(), port=0))
        self.bot._plugin_manager.start = _no_plugins
        self.logged_in = asyncio.Event()
        self._rechecks: asyncio.Task[None] | None = None
        # Set when the connection must not be retried (a login as the wrong account).
        self.fatal: str | None = None
        self._bot_names: list[str] = [app.settings.bot_name]
        for name, handler in (
            ("login", self._on_login),
            ("logout", self._on_logout),
            ("scan", self._on_scan),
            ("message", self._on_message),
            ("room-join", self._on_room_join),
            ("room-leave", self._on_room_leave),
            ("room-topic", self._on_room_topic),
        ):
            self.bot.on(name, self._guard(name, handler))

    def _guard(self, name: str, handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """One failing handler must never stop the bot; every event shows the gateway is there."""

        async def run(*args: Any) -> None:
            try:
                self.app.ctx.account.event(self.app.clock.now())
                await handler(*args)
            except Exception:
                logger.exception("handler for {} failed; the bot keeps going", name)

        return run

    @property
    def puppet(self) -> Puppet:
        return self.bot.puppet

    async def snapshot(self, room_id: str) -> RoomSnapshot | None:
        """Fresh room payload straight from the puppet (Room.ready(force_sync) is a no-op)."""
        payload = await self.puppet.room_payload(room_id)
        if payload is None:
            return None
        bot_id = self.app.bot_id
        fleet = self.app.ctx.fleet
        return RoomSnapshot(
            room_id=room_id,
            topic=clean_name(payload.topic or ""),
            owner_id=payload.owner_id or None,
            # Bot accounts are not members: a room shared by two accounts has the same people.
            member_ids=tuple(m for m in payload.member_ids if m != bot_id and not fleet.is_bot(m)),
            admin_ids=tuple(payload.admin_ids or ()),
            bot_present=bot_id in payload.member_ids,
        )

    async def contact_info(self, contact_id: str) -> ContactInfo | None:
        try:
            payload = await self.puppet.contact_payload(contact_id)
        except Exception:
            logger.info("no payload for contact {}", contact_id)
            return None
        if payload is None:
            return None
        return ContactInfo(
            contact_id=contact_id, name=clean_name(payload.name or ""), friend=bool(payload.friend)
        )

    async def _note_owner(self, snap: RoomSnapshot) -> None:
        if snap.owner_id:
            info = await self.contact_info(snap.owner_id)
            if info is not None:
                self.app.note_contacts([info])

    async def _on_login(self, contact: Contact) -> None:
        """Every login, the first or after a reconnect or a new scan, runs the whole path."""
        me = await self.contact_info(contact.contact_id)
        if me is not None and me.name:
            self._bot_names = list(dict.fromkeys([me.name, self.app.settings.bot_name]))
        try:
            again = self.app.logged_in(contact.contact_id, self.app.clock.now(), name=me.name if me else "")
        except WrongAccount as exc:
            logger.error("{}", exc)
            self.fatal = str(exc)
            await self._close_puppet()  # the event stream ends; `_run` sees `fatal` and stops
            return
        await self.check_rooms(greet_new=again)
        self.logged_in.set()
        # A puppet still syncing may list too few rooms: look again once the grace has passed,
        # then every hour, so a room left while we were away is confirmed as removed.
        if self._rechecks is not None:
            self._rechecks.cancel()
        if self.recheck_rooms:
            self._rechecks = asyncio.create_task(self._recheck_rooms(), name="room-rechecks")

    async def check_rooms(self, *, greet_new: bool = True) -> None:
        """Read the room list and members afresh and reconcile the stored rooms with them."""
        # Some puppets list every room they know; only rooms the bot is in are enrolled.
        room_ids = await self.puppet.room_search()
        snaps = []
        for room_id in room_ids:
            try:
                snap = await self.snapshot(room_id)
            except Exception:
                logger.exception("could not load room {} from the room list", room_id)
                continue
            if snap is not None and snap.bot_present:
                snaps.append(snap)
        self.app.backfill(snaps, self.app.clock.now(), greet_new=greet_new)
        for snap in snaps:
            await self._note_owner(snap)

    async def _recheck_rooms(self) -> None:
        delay = float(self.app.settings.removal_grace) + 1
        while True:
            await asyncio.sleep(delay)
            try:
                await self.check_rooms()
            except Exception:
                logger.exception("room list check failed; trying again later")
            delay = 3600.0

    async def _on_logout(self, contact: Contact, *_: Any) -> None:
        self.logged_in.clear()
        if self._rechecks is not None:
            self._rechecks.cancel()
        self.app.logged_out(self.app.clock.now())

    async def _on_scan(self, qr_code: str, status: Any, data: Any = None) -> None:
        # python-wechaty hands the ScanStatus enum; its value is the wire number.
        if qr_code and getattr(status, "value", status) in _SHOW_QR:
            await self.app.login_qr(qr_code, self.app.clock.now())

    async def _on_room_join(
        self, room: Room, invitees: list[Contact], inviter: Contact, date: datetime
    ) -> None:
        at = utc_of(date)
        ids = [c.contact_id for c in invitees]
        snap = await self.snapshot(room.room_id)
        if snap is None:
            return
        inviter_id = inviter.contact_id if inviter is not None and inviter.contact_id else None
        if self.app.bot_id in ids:
            self.app.bot_invited(snap, inviter_id, at)
            await self._note_owner(snap)
            ids = [i for i in ids if i != self.app.bot_id]
        if ids:
            self.app.members_joined(snap, ids, inviter_id, at)

    async def _on_room_leave(
        self, room: Room, leavers: list[Contact], remover: Contact, date: datetime
    ) -> None:
        at = utc_of(date)
        ids = [c.contact_id for c in leavers]
        remover_id = remover.contact_id if remover is not None and remover.contact_id else None
        if self.app.bot_id in ids:
            # A disbanded group leaves nobody behind; a removed bot leaves the group alive.
            snap = await self.snapshot(room.room_id)
            remaining = set(snap.member_ids) - set(ids) if snap is not None else set()
            self.app.bot_left(room.room_id, remover_id, at, dissolved=not remaining)
            return
        self.app.members_left(room.room_id, ids, remover_id or None, at)

    async def _on_room_topic(
        self, room: Room, new_topic: str, old_topic: str, changer: Contact, date: datetime
    ) -> None:
        changer_id = changer.contact_id if changer is not None and changer.contact_id else None
        self.app.topic_changed(room.room_id, clean_name(new_topic or ""), changer_id, utc_of(date))

    async def _on_message(self, msg: Message) -> None:
        payload = msg.payload
        talker_id = payload.from_id
        if not talker_id or talker_id == self.app.bot_id or self.app.ctx.fleet.is_bot(talker_id):
            return  # our own sends echoed, or another account's: never activity
        room_id = payload.room_id or None
        mention_ids = set(payload.mention_ids or ())
        command_text: str | None = None
        named = False
        if payload.type == MessageType.MESSAGE_TYPE_TEXT:
            if room_id is None:
                command_text = (payload.text or "").strip()
            elif self.app.bot_id in mention_ids:
                command_text = strip_mention(payload.text or "", self._bot_names)
            elif not any(self.app.ctx.fleet.is_bot(m) for m in mention_ids):
                named = names_bot(payload.text or "", self._bot_names)
        if room_id is None and command_text is None:
            return  # a private non-text message: nothing to count, nothing to parse
        if room_id is not None and room_id not in self.app.active_rooms():
            snap = await self.snapshot(room_id)
            if snap is None or not snap.bot_present:
                logger.info("message for room {} the bot is not in: ignored", room_id)
                return
            self.app.adopt_room(snap, utc_of(msg.date()))
        await self.app.message(
            ChatMessage(
                room_id=room_id,
                talker_id=talker_id,
                at=utc_of(msg.date()),
                mention_all=bool(mention_ids & MENTION_ALL_IDS)
                or (room_id is not None and room_id in mention_ids),
                command_text=command_text,
                named_without_mention=named,
                via=self.app.bot_id,
            )
        )

    # ------------------------------------------------------------ Transport

    async def send(self, delivery: Delivery) -> None:
        try:
            if delivery.room_id:
                room = self.bot.Room.load(delivery.room_id)
                await room.ready()
                if delivery.file is not None:
                    await room.say(file_box(delivery.file))
                else:
                    await room.say(delivery.text, mention_ids=list(delivery.mentions) or None)
            elif delivery.recipient_id:
                contact = self.bot.Contact.load(delivery.recipient_id)
                await contact.ready()
                await contact.say(file_box(delivery.file) if delivery.file is not None else delivery.text)
            else:
                raise SendError("no recipient")
        except SendError:
            raise
        except Exception as exc:
            raise SendError(f"{type(exc).__name__}: {exc}"[:300]) from exc

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> asyncio.Task[None]:
        """Connect as a task that reconnects by itself; the caller cancels it to stop."""
        return asyncio.create_task(self._run(), name="wechaty")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = 1.0
        cap = self.app.settings.reconnect_max_delay
        while True:
            began = loop.time()
            try:
                await _child(self._connect_once(), CONNECTION_TASK)
                why = "the gateway ended the event stream"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                why = f"{type(exc).__name__}"
            self.logged_in.clear()
            self.app.disconnected()
            if self._rechecks is not None:
                self._rechecks.cancel()
            await self._close_puppet()
            if self.fatal is not None:
                return
            if loop.time() - began > 60:
                delay = 1.0  # it was up for a while: this is a new outage
            logger.warning("gateway connection lost ({}); reconnecting in {:.0f} s", why, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)

    async def _connect_once(self) -> None:
        """What Wechaty.start() does, without its catch-all and its fixed 60 s retry."""
        await self.bot.init_puppet()
        await self.bot.init_puppet_event_bridge(self.puppet)
        await self.puppet.start()  # returns when the event stream ends

    async def _close_puppet(self) -> None:
        try:
            await _child(asyncio.wait_for(self.puppet.stop(), timeout=2))
        except Exception:
            logger.info("puppet stop did not finish cleanly")

    async def stop(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        if self._rechecks is not None:
            self._rechecks.cancel()
        await self._close_puppet()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
