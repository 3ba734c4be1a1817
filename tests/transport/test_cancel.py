"""Stopping the adapter while python-wechaty is connecting: the task must end, not reconnect."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

from bot.app import App
from bot.core.clock import SystemClock
from bot.core.config import load_settings
from bot.transport.adapter import WechatyAdapter
from bot.transport.guard import live_puppet
from storage.db import make_engine
from storage.migrate import upgrade


class _StallingGateway:
    """Accepts gRPC connections, says nothing for a while, then closes them.

    The puppet-service's start() runs `try: stub.stop() finally: stub.start()`: a cancel during
    stop() is replaced by the error start() then raises when the connection closes.
    """

    def __init__(self, hold: float) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.hold = hold
        self.connected = threading.Event()
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connected.set()
            threading.Timer(self.hold, conn.close).start()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


async def test_a_cancel_during_connect_ends_the_task(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'q.db'}")
    engine = make_engine(settings.db_url)
    upgrade(engine)
    gateway = _StallingGateway(hold=1.0)
    try:
        app = App(engine=engine, settings=settings, clock=SystemClock())
        adapter = WechatyAdapter(app, live_puppet(f"127.0.0.1:{gateway.port}", "tok-cancel"))
        task = await adapter.start()
        assert await asyncio.to_thread(gateway.connected.wait, 20)
        await asyncio.sleep(0.2)  # inside the puppet's start(), waiting on the stalled gateway
        task.cancel()
        # Without the adapter's own check the task swallows the cancel and keeps reconnecting.
        done, _ = await asyncio.wait({task}, timeout=20)
        assert done == {task}
        assert task.cancelled()
        await adapter.stop(task)  # closes the puppet's channel, as `qingqun run` does
    finally:
        gateway.close()
        engine.dispose()
