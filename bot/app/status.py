"""`qingqun status`: the instances' heartbeats, the rooms, the outbox and the next digest run."""

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
from storage import instances as instances_db
from storage import outbox as outbox_db
from storage.db import session_scope
from storage.models import Instance, Room

SHOWN_FOR = timedelta(days=1)  # instances heard from within this are listed


@dataclass
class StatusReport:
    instances: list[Instance]
    rooms_active: int
    outbox_pending: int
    outbox_failed_24h: int
    next_digest_at: datetime | None
    problems: list[str] = field(default_factory=list)

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
    problems: list[str] = []
    fresh = [i for i in instances if i.updated_at is not None and i.updated_at >= fresh_after]
    if not fresh:
        problems.append("没有正在运行的 qingqun run（一分钟内没有心跳）")
    for i in fresh:
        since = i.logged_out_since
        if not i.logged_in and since is not None and now - since > limit:
            minutes = int((now - since).total_seconds() // 60)
            problems.append(f"实例 {i.id} 的机器人账号已 {minutes} 分钟未登录，请扫码登录")
    return StatusReport(instances, rooms_active, pending, failed, next_digest_at(settings, now), problems)
