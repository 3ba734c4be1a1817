"""Crash-test child process: the real recording path under a steady message burst.

Built from the live pieces: the real `Wechaty` via `WechatyAdapter` + `SimPuppet` on the system
clock, an `App` on a SQLite file, and `bot.cli.run._flush_loop` at `--flush-interval`. The first run
enrols the room by inviting the bot; a restart finds the bot already in the room (login backfill).
Messages are handed to the puppet in batches at `--rate` per second, each batch `settle`d so every
message has reached `ActivityRecorder.record` before the next batch is announced.

Protocol on stdout, one line per item (t = time.monotonic() in this process):
  ready <room_id>
  emitted <n> <t>        before a batch is handed to the puppet; n counts that batch already
  recorded <n> <t>       after the batch settled; n = calls to ActivityRecorder.record so far
  flush <n> <secs> <t>   after a write committed: messages in it, duration of the write
  stopped <n>            after a clean stop (SIGTERM, or --count reached): the final flush's messages

A clean stop mirrors `bot.cli.run.run_live`: cancel the flush loop, `app.flush()`, stop the adapter.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import threading
import time
from contextlib import suppress
from typing import Any

os.environ.setdefault("CACHE_DIR", tempfile.mkdtemp(prefix="qingqun-crash-wechaty-"))

from bot.app import App
from bot.cli.run import _flush_loop
from bot.core.clock import SystemClock
from bot.core.config import load_settings
from bot.sim.puppet import SimPuppet, SimRoom
from bot.sim.simulate import settle
from bot.transport.adapter import WechatyAdapter
from bot.transport.guard import repair_wire_event
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

BOT_ID, BOT_NAME = "wxid_bot", "清群助手"
ROOM_ID, OWNER_ID = "crash-room@chatroom", "wxid_owner"
SENDERS = [f"wxid_member{i:02d}" for i in range(20)]

_out_lock = threading.Lock()


def say(*parts: object) -> None:
    """One whole line per call, from the event loop or the flush thread."""
    line = " ".join(str(p) for p in parts) + "\n"
    with _out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def instrument(app: App) -> dict[str, int]:
    """Count record() calls and report each committed write; both wrap the real methods unchanged."""
    stats = {"recorded": 0}
    rec = app.recorder
    record, write = rec.record, rec.write

    def counting_record(*args: Any, **kwargs: Any) -> None:
        record(*args, **kwargs)
        stats["recorded"] += 1

    def reporting_write(days: Any, senders: Any) -> None:
        n = sum(c.messages for c in days.values())
        t = time.monotonic()
        write(days, senders)
        if n:
            say("flush", n, f"{time.monotonic() - t:.6f}", f"{time.monotonic():.6f}")

    rec.record = counting_record  # type: ignore[method-assign]
    rec.write = reporting_write  # type: ignore[method-assign]
    return stats


async def run(args: argparse.Namespace) -> int:
    settings = load_settings(
        flush_interval=args.flush_interval,
        database_url=f"sqlite:///{args.db}",
        data_dir=args.data_dir,
    )
    engine = make_engine(settings.db_url)
    upgrade(engine)
    with session_scope(engine) as s:
        known = rooms_db.get_room(s, room_id=ROOM_ID) is not None

    clock = SystemClock()
    app = App(engine=engine, settings=settings, clock=clock)
    stats = instrument(app)
    puppet = SimPuppet(
        BOT_ID, BOT_NAME, clock.now,
        wire_guard=lambda kind, payload: repair_wire_event(kind, payload, clock.now().timestamp()),
    )
    puppet.add_contact(OWNER_ID, "群主")
    for i, sid in enumerate(SENDERS):
        puppet.add_contact(sid, f"成员{i}")
    members = [OWNER_ID, *SENDERS] + ([BOT_ID] if known else [])
    puppet.add_room(SimRoom(ROOM_ID, "压力测试群", OWNER_ID, members, [OWNER_ID]))

    adapter = WechatyAdapter(app, puppet)
    bot_task = await adapter.start()
    keep: set[asyncio.Task[Any]] = {bot_task}
    await asyncio.wait_for(adapter.logged_in.wait(), timeout=30)
    await settle(keep)
    if not known:
        puppet.join(ROOM_ID, [BOT_ID], OWNER_ID)  # the owner invites the bot: the room is enrolled
        await settle(keep)
    with session_scope(engine) as s:
        room = rooms_db.get_room(s, room_id=ROOM_ID)
        if room is None or room.status != "active":
            say("error room not enrolled")
            return 3
    say("ready", ROOM_ID)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    flusher = asyncio.create_task(_flush_loop(app, settings.flush_interval), name="flush")
    keep.add(flusher)

    emitted, k = 0, 0
    t0 = loop.time()
    while not stop.is_set() and (args.count == 0 or emitted < args.count):
        due = t0 + k * args.batch / args.rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
            if stop.is_set():
                break
        n = args.batch if args.count == 0 else min(args.batch, args.count - emitted)
        emitted += n
        say("emitted", emitted, f"{time.monotonic():.6f}")
        for i in range(n):
            puppet.say(SENDERS[(emitted + i) % len(SENDERS)], f"消息 {emitted - n + i}", room_id=ROOM_ID)
        await settle(keep)
        say("recorded", stats["recorded"], f"{time.monotonic():.6f}")
        k += 1

    # Clean stop, as bot.cli.run.run_live does it.
    flusher.cancel()
    with suppress(asyncio.CancelledError):
        await flusher
    written = app.flush()
    with suppress(Exception):
        await asyncio.wait_for(adapter.stop(bot_task), timeout=3)
    engine.dispose()
    say("stopped", written)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--rate", type=float, default=2000.0, help="messages per second")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--count", type=int, default=0,
                    help="stop cleanly after this many (0: run until signalled)")
    ap.add_argument("--flush-interval", type=float, default=0.2)
    args = ap.parse_args()
    args.data_dir = os.path.dirname(os.path.abspath(args.db))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
