"""A stand-in for `qingqun run` without a gateway, for the restart and two-instance tests.

Modes:
  deliver  run the owner digest job once, recover, deliver until nothing is pending (restart test)
  race     like deliver, but never recover: two of these at once model a split brain
  lead     leadership + APScheduler + outbox (bot.scheduler.Coordinator), exit once all is sent

The transport writes one JSON line per delivery to --log *before* a slow acknowledgement, the
way a gateway takes a message and answers late; the test kills the process during that wait.
Time comes from an offset clock that starts at --start (a working Monday morning) and runs at
wall speed, so quiet hours never get in the way whatever time the test runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from bot.app import App
from bot.core.config import Settings, load_settings
from bot.services.outbox import Delivery
from storage import directory as directory_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import Outbox

START = "2026-09-14T10:00:00+08:00"  # Monday, first working day of its week


class OffsetClock:
    def __init__(self, start: datetime) -> None:
        self._start = start.astimezone(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


class SlowFileTransport:
    def __init__(self, log: Path, ack_delay: float) -> None:
        self.log = log
        self.ack_delay = ack_delay

    async def send(self, delivery: Delivery) -> None:
        line = json.dumps(
            {"pid": os.getpid(), "row": delivery.row_id, "to": delivery.recipient_id,
             "room": delivery.room_id, "head": delivery.text.split("\n", 1)[0]},
            ensure_ascii=False,
        )
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        await asyncio.sleep(self.ack_delay)  # the gateway has it; the acknowledgement is slow


def settings_for(db: str, **extra: object) -> Settings:
    return load_settings(
        database_url=db, send_interval_min=0.05, send_interval_max=0.1, leader_poll_interval=0.2, **extra
    )


def seed(db: str, owners: int) -> list[str]:
    """Owners, each owning one unregistered group whose name says its task ended (-> review)."""
    engine = make_engine(db)
    upgrade(engine)
    at = datetime.fromisoformat("2026-09-01T09:00:00+08:00")
    ids = [f"owner{i:02d}" for i in range(owners)]
    with session_scope(engine) as s:
        directory_db.upsert_unit(s, name="黑龙潭镇", parent=None)
        for i, oid in enumerate(ids):
            directory_db.upsert_contact(s, contact_id=oid, name=f"群主{i:02d}", unit="黑龙潭镇", friend=True)
            rooms_db.enrol_room(
                s, room_id=f"r{i:02d}@chatroom", topic=f"2024年秋季征兵工作群{i:02d}", owner_id=oid,
                admin_ids=(), member_ids=(oid, f"m{i}"), by=oid, at=at,
            )
    engine.dispose()
    return ids


def _pending_digests(app: App) -> int:
    with session_scope(app.engine) as s:
        return int(
            s.execute(
                select(func.count()).select_from(Outbox).where(
                    col(Outbox.kind) == "owner_digest", col(Outbox.status).in_(("pending", "sending"))
                )
            ).scalar() or 0
        )


def _digests(app: App) -> int:
    with session_scope(app.engine) as s:
        stmt = select(func.count()).select_from(Outbox).where(col(Outbox.kind) == "owner_digest")
        return int(s.execute(stmt).scalar() or 0)


async def deliver(app: App, transport: SlowFileTransport, recover: bool) -> None:
    from bot.digests.jobs import owner_digest_job

    await asyncio.to_thread(owner_digest_job, app.ctx, app.clock.now())
    if recover:
        app.outbox.recover()
    while _pending_digests(app):
        wake = await app.outbox.step(transport)
        delay = 0.02 if wake is None else (wake - app.clock.now()).total_seconds()
        await asyncio.sleep(min(max(delay, 0.01), 0.2))


async def lead(app: App, transport: SlowFileTransport, expected: int) -> None:
    from bot.runtime.coordinator import Coordinator

    coordinator = Coordinator(app.ctx)
    task = asyncio.create_task(coordinator.run(transport))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    while not task.done():
        await asyncio.sleep(0.1)
        if _digests(app) >= expected and not _pending_digests(app):
            task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["deliver", "race", "lead"])
    p.add_argument("--db", required=True)
    p.add_argument("--log", required=True, type=Path)
    p.add_argument("--ack-delay", type=float, default=0.3)
    p.add_argument("--expected", type=int, default=0)
    args = p.parse_args()
    extra: dict[str, object] = {}
    if args.mode == "lead":
        # Every second: the jobs' own calendar check decides (the offset clock says Monday).
        extra = {"owner_digest_cron": "* * * * * *", "supervisor_digest_cron": "0 30 16 * * *",
                 "reminder_cron": "0 0 10 * * *"}
    settings = settings_for(args.db, **extra)
    engine = make_engine(settings.db_url)
    app = App(engine=engine, settings=settings, clock=OffsetClock(datetime.fromisoformat(START)))
    transport = SlowFileTransport(args.log, args.ack_delay)
    if args.mode == "lead":
        asyncio.run(lead(app, transport, args.expected))
    else:
        asyncio.run(deliver(app, transport, recover=args.mode == "deliver"))
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
