"""`App`: what the transport talks to. It owns the context, the room lifecycle and the router."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from loguru import logger
from sqlalchemy.engine import Engine

from bot.app.rooms import RoomLifecycle
from bot.app.router import MessageRouter
from bot.commands.registry import REGISTRY, CommandTable
from bot.core.clock import Clock
from bot.core.config import Settings
from bot.core.domain import ChatMessage, ContactInfo, RoomSnapshot
from bot.core.wording import wrong_account
from bot.services.account import show_login_qr
from bot.services.activity import ActivityRecorder
from bot.services.context import AppContext
from bot.services.outbox import Outbox
from bot.services.roster import Roster, apply_roster
from policies.rules import Rules
from storage import accounts as accounts_db
from storage import eventlog as eventlog_db
from storage.db import session_scope


class WrongAccount(Exception):
    """The gateway logged in as another account than this instance serves; str() says so in Chinese."""


class App:
    """The bot as the transport sees it: events in (frozen values), messages out via the outbox."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        clock: Clock,
        seed: int | None = None,
        registry: CommandTable = REGISTRY,
    ) -> None:
        self.ctx = AppContext(engine=engine, settings=settings, clock=clock, seed=seed)
        self.rooms = RoomLifecycle(self.ctx)
        self.router = MessageRouter(self.ctx, registry)

    # The services, for the transport, the runtime and tests.
    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def outbox(self) -> Outbox:
        return self.ctx.outbox

    @property
    def recorder(self) -> ActivityRecorder:
        return self.ctx.recorder

    @property
    def rules(self) -> Rules:
        return self.ctx.rules

    @property
    def bot_id(self) -> str | None:
        return self.ctx.bot_id

    @bot_id.setter
    def bot_id(self, value: str | None) -> None:
        self.ctx.bot_id = value

    # ------------------------------------------------------------ roster and rooms

    def apply_roster(self, roster: Roster) -> None:
        apply_roster(self.ctx.engine, roster)
        self.rooms.set_room_created(roster.room_created)

    def note_contacts(self, infos: Sequence[ContactInfo]) -> None:
        self.rooms.note_contacts(infos)

    def refresh_fleet(self) -> None:
        """Pick up what other accounts' processes changed (a handover of observing, say)."""
        self.ctx.fleet.refresh(self.ctx.engine)

    def backfill(self, rooms: Sequence[RoomSnapshot], at: datetime, *, greet_new: bool = False) -> None:
        self.rooms.backfill(rooms, at, greet_new=greet_new)

    def active_rooms(self) -> set[str]:
        return self.rooms.active_rooms()

    def adopt_room(self, snap: RoomSnapshot, at: datetime) -> None:
        self.rooms.adopt_room(snap, at)

    def bot_invited(self, snap: RoomSnapshot, inviter_id: str | None, at: datetime) -> None:
        self.rooms.bot_invited(snap, inviter_id, at)

    def members_joined(
        self, snap: RoomSnapshot, joined: Sequence[str], inviter_id: str | None, at: datetime
    ) -> None:
        self.rooms.members_joined(snap, joined, inviter_id, at)

    def members_left(self, room_id: str, left: Sequence[str], remover_id: str | None, at: datetime) -> None:
        self.rooms.members_left(room_id, left, remover_id, at)

    def bot_left(self, room_id: str, remover_id: str | None, at: datetime, dissolved: bool) -> None:
        self.rooms.bot_left(room_id, remover_id, at, dissolved)

    def topic_changed(self, room_id: str, new_topic: str, changer_id: str | None, at: datetime) -> None:
        self.rooms.topic_changed(room_id, new_topic, changer_id, at)

    # ------------------------------------------------------------ the account

    def logged_in(self, account: str, at: datetime, name: str = "") -> bool:
        """Record a login of the bot account; True when an earlier login is on record.

        Raises WrongAccount when this instance serves another account (QINGQUN_ACCOUNT)."""
        expected = self.ctx.settings.account
        if expected and account != expected:
            raise WrongAccount(wrong_account(expected, account))
        with session_scope(self.ctx.engine) as s:
            before = bool(eventlog_db.events_of_kind(s, kind="account_login"))
            eventlog_db.log_event(s, kind="account_login", at=at, actor_id=account)
            accounts_db.record_login(
                s, account_id=account, name=name, room_limit=self.ctx.settings.room_limit, at=at
            )
        self.ctx.bot_id = account
        self.ctx.fleet.refresh(self.ctx.engine)
        state = self.ctx.account
        state.account, state.logged_in, state.logged_out_since, state.qr_url = account, True, None, None
        state.event(at)
        logger.info("logged in as {} ({})", account, "again" if before else "first login of this database")
        return before

    def logged_out(self, at: datetime) -> None:
        state = self.ctx.account
        with session_scope(self.ctx.engine) as s:
            eventlog_db.log_event(s, kind="account_logout", at=at, actor_id=state.account)
        state.logged_in, state.logged_out_since = False, at
        state.event(at)
        logger.warning("账号 {} 已退出登录，等待重新扫码登录", state.account or "?")

    async def login_qr(self, url: str, at: datetime) -> None:
        """Show a (new) login QR code: terminal, a PNG in the data dir, the log."""
        state = self.ctx.account
        state.event(at)
        if url == state.qr_url:
            return
        state.qr_url = url
        await asyncio.to_thread(show_login_qr, url, self.ctx.settings.data_dir)

    def disconnected(self) -> None:
        self.ctx.account.connected = False

    # ------------------------------------------------------------ messages

    async def message(self, msg: ChatMessage) -> None:
        await self.router.message(msg)

    def flush(self) -> int:
        return self.ctx.flush()
