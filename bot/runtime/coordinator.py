"""Leadership + scheduler + outbox delivery for a live process (`qingqun run`).

The leader runs the schedule (digests, reminders, retention) for the whole fleet. Delivery is
per account: once logged in, a process sends its own account's outbox rows while it holds that
account's lock, leader or not. Before any login (one account, as always) the leader delivers.
"""

from __future__ import annotations

import asyncio

from loguru import logger

from bot.runtime.leadership import Leadership, account_lock_key
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
        self.sender: Leadership | None = None  # the lock for sending as the logged-in account
        self.sending_as: str | None = None
        self._checked_for: str | None = None  # the account the last lock check was for

    async def _check(self) -> None:
        try:
            ok = await asyncio.to_thread(self.leadership.try_acquire)
        except Exception:
            logger.exception("leadership check failed")
            ok = False
        if ok and not self.leading:
            if self.services.bot_id is None:
                # Rows a dead leader left `sending` count as sent (see bot.services.outbox).
                await asyncio.to_thread(self.services.outbox.recover)
            self.scheduler.start()
            self.leading = True
            logger.info("this instance leads: the schedule runs here")
        elif not ok and self.leading:
            self.scheduler.shutdown()
            self.leading = False
            logger.warning("this instance no longer leads: scheduler stopped")
        elif not ok:
            logger.debug("another instance leads; waiting")
        await self._check_sender()

    async def _check_sender(self) -> None:
        """Hold the lock for sending as the logged-in account (taken over if the account changes)."""
        me = self.services.bot_id
        self._checked_for = me
        if me != self.sending_as and self.sender is not None:
            await asyncio.to_thread(self.sender.release)
            self.sender, self.sending_as = None, None
        if me is None:
            return
        if self.sender is None:
            self.sender = Leadership(self.services.engine, key=account_lock_key(me))
        had = self.sending_as == me
        try:
            got = await asyncio.to_thread(self.sender.try_acquire)
        except Exception:
            logger.exception("account lock check failed")
            got = False
        if got and not had:
            self.sending_as = me
            await asyncio.to_thread(self.services.outbox.recover, me)
            logger.info("this instance sends as account {}", me)
        elif not got and had:
            self.sending_as = None
            logger.warning("another instance sends as account {}; not sending", me)

    @property
    def delivering(self) -> bool:
        me = self.services.bot_id
        return self.leading if me is None else self.sending_as == me

    async def run(self, transport: Transport) -> None:
        """Run until cancelled."""
        loop = asyncio.get_running_loop()
        interval = self.services.settings.leader_poll_interval
        next_check = loop.time()
        try:
            while True:
                if loop.time() >= next_check or self.services.bot_id != self._checked_for:
                    await self._check()
                    next_check = loop.time() + interval
                delay = interval
                if self.delivering:
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
        if self.sender is not None:
            self.sender.release()
        self.leading = False
        self.sending_as = None
