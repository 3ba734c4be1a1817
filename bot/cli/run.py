"""`qingqun run`: the live bot against a puppet-service gateway."""

from __future__ import annotations

import asyncio
import fcntl
import signal
import socket
from contextlib import suppress
from pathlib import Path
from typing import Any, TextIO

from loguru import logger
from sqlalchemy.engine import Engine

from bot.app import App
from bot.core.clock import SystemClock
from bot.core.config import ConfigError, Settings
from bot.runtime.coordinator import Coordinator
from bot.runtime.heartbeat import Heartbeat
from bot.transport.adapter import WechatyAdapter
from bot.transport.guard import live_puppet


def check_reachable(endpoint: str, timeout: float = 3.0) -> None:
    """python-wechaty stops the event loop on an unreachable endpoint; say so clearly instead."""
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"QINGQUN_GATEWAY_ENDPOINT: expected host:port, got {endpoint!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(f"gateway {endpoint} is not reachable: {exc.strerror or exc}") from exc


FLEET_REFRESH = 10.0  # seconds: how soon a handover made by another account's process is seen


async def _flush_loop(app: App, interval: float) -> None:
    loop = asyncio.get_running_loop()
    refreshed = loop.time()
    while True:
        await asyncio.sleep(interval)
        try:
            await app.recorder.flush_async()
        except Exception:
            logger.exception("activity flush failed; counters kept for the next try")
        if loop.time() - refreshed >= FLEET_REFRESH:
            refreshed = loop.time()
            try:
                await asyncio.to_thread(app.refresh_fleet)
            except Exception:
                logger.exception("reading the fleet failed; trying again")


def single_instance_lock(engine: Engine) -> TextIO | None:
    """On SQLite, hold an exclusive lock next to the database file for the life of the process.

    SQLite has no leadership: a second `qingqun run` on the same file would restart the
    gateway's puppet under the first and count messages twice or not at all. PostgreSQL
    instances share a database by design (bot.runtime.leadership). Returns the open lock file.
    """
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    path = Path(f"{engine.url.database}.run.lock")
    fh = path.open("a")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise ConfigError(
            f"已有一个 qingqun run 在使用这个 SQLite 数据库（{engine.url.database}）；"
            "SQLite 只能运行一个实例，多个实例请使用 PostgreSQL"
        ) from None
    return fh


async def run_live(settings: Settings, engine: Engine) -> int:
    endpoint, token = settings.require_gateway()
    lock = single_instance_lock(engine)
    try:
        return await _run_live(settings, engine, endpoint, token)
    finally:
        if lock is not None:
            lock.close()


async def _run_live(settings: Settings, engine: Engine, endpoint: str, token: str) -> int:
    check_reachable(endpoint)
    # Signals first: a Ctrl-C while the puppet is being built must stop us the same clean way.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await _serve(settings, engine, endpoint, token, stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _serve(settings: Settings, engine: Engine, endpoint: str, token: str, stop: asyncio.Event) -> int:
    app = App(engine=engine, settings=settings, clock=SystemClock())
    app.ctx.account.logged_out_since = app.clock.now()  # not logged in until the gateway says so
    # Outbox recovery, the scheduler and delivery run while this process leads (bot.runtime).
    coordinator = Coordinator(app.ctx)
    heartbeat = Heartbeat(app.ctx, leading=lambda: coordinator.leading)
    adapter = WechatyAdapter(app, live_puppet(endpoint, token), recheck_rooms=True)
    bot_task = await adapter.start()
    tasks = [
        asyncio.create_task(_flush_loop(app, settings.flush_interval), name="flush"),
        asyncio.create_task(coordinator.run(adapter), name="leader"),
        asyncio.create_task(heartbeat.run(), name="heartbeat"),
    ]
    logger.info("qingqun is running against {}", endpoint)
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({stopper, bot_task}, return_when=asyncio.FIRST_COMPLETED)
        if bot_task in done and not stop.is_set() and adapter.fatal is None:
            logger.error("the wechaty connection ended; stopping so a supervisor can restart us")
    finally:
        await _shut_down(app, adapter, heartbeat, bot_task, [*tasks, stopper])
    return 0 if stop.is_set() else 1


async def _shut_down(
    app: App,
    adapter: WechatyAdapter,
    heartbeat: Heartbeat,
    bot_task: asyncio.Task[None],
    tasks: list[asyncio.Task[Any]],
) -> None:
    """Stop in order: background loops, the command in flight, activity, the gateway, the heartbeat."""
    for t in tasks:
        t.cancel()
    for t in tasks:
        with suppress(asyncio.CancelledError):
            await t
    try:
        async with asyncio.timeout(1.5):  # a command in flight gets its reply queued, within reason
            await app.router.commands.drain()
    except TimeoutError:
        logger.warning("a command was still running at shutdown; its reply may be lost")
    written = app.flush()
    logger.info("flushed {} message(s) of activity; stopping", written)
    with suppress(Exception):
        await asyncio.wait_for(adapter.stop(bot_task), timeout=3)
    with suppress(Exception):
        await asyncio.wait_for(asyncio.to_thread(heartbeat.forget), timeout=1)
