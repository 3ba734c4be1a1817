"""Leadership + scheduler + outbox delivery for a live process (`qingqun run`)."""

from __future__ import annotations

import asyncio

from loguru import logger

from bot.runtime.leadership import Leadership
from bot.runtime.scheduler import AppScheduler
from bot.services.context import AppContext
from bot.services.outbox import Transport


class Coordinator:
    """Leadership + scheduler + outbox delivery for a live process (`qingqun run`)."""

    def __init__(
        self,
        services: AppContext,
        leadership: Leadership | None = None,
        scheduler: AppScheduler | None = None,
    ):
        self.services = services
        self.leadership = leadership or Leadership(services.engine)
        self.scheduler = scheduler or AppScheduler(services)
        self.leading = False

    async def _check(self) -> None:
        try:
            ok = await asyncio.to_thread(self.leadership.try_acquire)
        except Exception:
            logger.exception("leadership check failed")
            ok = False
        if ok and not self.leading:
            # Rows a dead leader left `sending` count as sent (see bot.services.outbox).
            await asyncio.to_thread(self.services.outbox.recover)
            self.scheduler.start()
            self.leading = True
            logger.info("this instance leads: scheduler started, delivering the outbox")
        elif not ok and self.leading:
            self.scheduler.shutdown()
            self.leading = False
            logger.warning("this instance no longer leads: scheduler stopped")
        elif not ok:
            logger.debug("another instance leads; waiting")

    async def run(self, transport: Transport) -> None:
        """Run until cancelled."""
        loop = asyncio.get_running_loop()
        interval = self.services.settings.leader_poll_interval
        next_check = loop.time()
        try:
            while True:
                if loop.time() >= next_check:
                    await self._check()
                    next_check = loop.time() + interval
                delay = interval
                if self.leading:
                    try:
                        wake = await self.services.outbox.step(transport)
                    except Exception:
                        logger.exception("outbox step failed")
                        wake = None
                    now = self.services.clock.now()
                    delay = 1.0 if wake is None else min(max((wake - now).total_seconds(), 0.05), 1.0)
                await asyncio.sleep(max(0.05, min(delay, next_check - loop.time())))
        finally:
            self.stop()

    def stop(self) -> None:
        self.scheduler.shutdown()
        self.leadership.release()
        self.leading = False
