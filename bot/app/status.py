"""`qingqun status`: the instances' heartbeats, the fleet's accounts, the rooms, the outbox and
the next digest run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.core.config import Settings
from bot.core.cron import parse_cron
from bot.digests.calendar import is_first_workday_of_week, is_last_workday_of_week
from bot.services.capacity import AccountLoad, account_loads
from storage import accounts as accounts_db
from storage import instances as instances_db
from storage import outbox as outbox_db
from storage.db import session_scope
from storage.models import Instance, Room

SHOWN_FOR = timedelta(days=1)  # instances heard from within this are listed


@dataclass(frozen=True)
class AccountStatus:
    """One bot account: how full it is, its friends, its sends, and whether an instance runs it."""

    load: AccountLoad
    friends: int
    sent_last_hour: int
    logged_in: bool | None  # None: no running instance serves it

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.load.account,
            "name": self.load.name,
            "rooms": self.load.rooms,
            "room_limit": self.load.room_limit,
            "friends": self.friends,
            "sent_last_hour": self.sent_last_hour,
            "logged_in": self.logged_in,
            "near_limit": self.load.near_limit,
        }


@dataclass
class StatusReport:
    instances: list[Instance]
    rooms_active: int
    outbox_pending: int
    outbox_failed_24h: int
    next_digest_at: datetime | None
    problems: list[str] = field(default_factory=list)
    accounts: list[AccountStatus] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_json(self, settings: Settings) -> dict[str, Any]:
        tz = settings.tz

        def iso(t: datetime | None) -> str | None:
            return t.astimezone(tz).isoformat() if t is not None else None

        return {
            "instances": [
                {
                    "instance": i.id,
                    "account": i.account,
                    "logged_in": i.logged_in,
                    "last_event_at": iso(i.last_event_at),
                    "leader": i.leader,
                    "updated_at": iso(i.updated_at),
                    "connected": i.connected,
                    "logged_out_since": iso(i.logged_out_since),
                }
                for i in self.instances
            ],
            "rooms_active": self.rooms_active,
            "outbox_pending": self.outbox_pending,
            "outbox_failed_24h": self.outbox_failed_24h,
            "next_digest_at": iso(self.next_digest_at),
            "healthy": self.healthy,
            "problems": self.problems,
            "accounts": [a.as_json() for a in self.accounts],
        }


def next_digest_at(settings: Settings, now: datetime) -> datetime | None:
    """The next moment a weekly digest job will actually send (its cron, on its calendar day)."""
    found: list[datetime] = []
    for cron, is_day in (
        (settings.owner_digest_cron, is_first_workday_of_week),
        (settings.supervisor_digest_cron, is_last_workday_of_week),
    ):
        trigger = parse_cron(cron, settings.tz)
        moment: datetime | None = now
        for _ in range(200):  # a daily cron: a few weeks ahead at most
            assert moment is not None
            moment = trigger.get_next_fire_time(None, moment + timedelta(microseconds=1))
            if moment is None:
                break
            if is_day(moment.astimezone(settings.tz).date()):
                found.append(moment)
                break
    return min(found) if found else None


def status_report(engine: Engine, settings: Settings, now: datetime) -> StatusReport:
    fresh_after = now - timedelta(seconds=max(60.0, 3 * settings.heartbeat_interval))
    limit = timedelta(seconds=settings.logout_alert_after)
    with session_scope(engine) as s:
        instances = instances_db.instances_since(s, since=now - SHOWN_FOR)
        count_active = select(func.count()).select_from(Room).where(col(Room.status) == "active")
        rooms_active = int(s.execute(count_active).scalar() or 0)
        pending = outbox_db.pending_count(s)
        failed = outbox_db.failed_count_since(s, since=now - timedelta(hours=24))
        loads = account_loads(s)
        friends = accounts_db.friend_counts(s)
        sent = accounts_db.sent_counts_since(s, since=now - timedelta(hours=1))
    problems: list[str] = []
    fresh = [i for i in instances if i.updated_at is not None and i.updated_at >= fresh_after]
    if not fresh:
        problems.append("没有正在运行的 qingqun run（一分钟内没有心跳）")
    for i in fresh:
        since = i.logged_out_since
        if not i.logged_in and since is not None and now - since > limit:
            minutes = int((now - since).total_seconds() // 60)
            problems.append(f"实例 {i.id} 的机器人账号已 {minutes} 分钟未登录，请扫码登录")
    accounts = [
        AccountStatus(
            load, friends.get(load.account, 0), sent.get(load.account, 0), _logged_in(fresh, load.account)
        )
        for load in loads
    ]
    return StatusReport(
        instances,
        rooms_active,
        pending,
        failed,
        next_digest_at(settings, now),
        problems=problems,
        accounts=accounts,
    )


def _logged_in(fresh: list[Instance], account: str) -> bool | None:
    """Whether a running instance has the account logged in; None when none runs it."""
    serving = [i for i in fresh if i.account == account]
    return any(i.logged_in for i in serving) if serving else None
