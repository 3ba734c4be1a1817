"""`qingqun run`: the live bot against a puppet-service gateway."""

from __future__ import annotations

import asyncio
import signal
import socket
from contextlib import suppress

from loguru import logger
from sqlalchemy.engine import Engine

from bot.app import App
from bot.core.clock import SystemClock
from bot.core.config import ConfigError, Settings
from bot.runtime.coordinator import Coordinator
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


async def _flush_loop(app: App, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await app.recorder.flush_async()
        except Exception:
            logger.exception("activity flush failed; counters kept for the next try")


async def run_live(settings: Settings, engine: Engine) -> int:
    endpoint, token = settings.require_gateway()
    check_reachable(endpoint)
    app = App(engine=engine, settings=settings, clock=SystemClock())
    # Outbox recovery, the scheduler and delivery run while this process leads (bot.runtime).
    coordinator = Coordinator(app.ctx)
    adapter = WechatyAdapter(app, live_puppet(endpoint, token))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bot_task = await adapter.start()
    tasks = [
        asyncio.create_task(_flush_loop(app, settings.flush_interval), name="flush"),
        asyncio.create_task(coordinator.run(adapter), name="leader"),
    ]
    logger.info("qingqun is running against {}", endpoint)
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({stopper, bot_task}, return_when=asyncio.FIRST_COMPLETED)
    if bot_task in done and not stop.is_set():
        logger.error("the wechaty connection ended; stopping so a supervisor can restart us")
    for t in tasks:
        t.cancel()
    for t in tasks:
        with suppress(asyncio.CancelledError):
            await t
    stopper.cancel()
    try:
        async with asyncio.timeout(1.5):  # a command in flight gets its reply queued, within reason
            await app.router.commands.drain()
    except TimeoutError:
        logger.warning("a command was still running at shutdown; its reply may be lost")
    written = app.flush()
    logger.info("flushed {} message(s) of activity; stopping", written)
    with suppress(Exception):
        await asyncio.wait_for(adapter.stop(bot_task), timeout=3)
    return 0 if stop.is_set() else 1
