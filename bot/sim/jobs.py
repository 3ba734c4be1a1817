"""Scheduled jobs on the virtual clock, driven by the same CronTriggers as the live scheduler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from loguru import logger

from bot.app.jobs import JOBS, JobSpec
from bot.services.context import AppContext


class Job(Protocol):
    """A scheduled job the simulation fires on the virtual clock."""

    def next_fire_time(self, after: datetime) -> datetime | None: ...

    async def fire(self, now: datetime) -> None: ...


class SimJob:
    """One job of `bot.app.jobs.JOBS`, fired when virtual time reaches its trigger."""

    def __init__(self, services: AppContext, spec: JobSpec, start: datetime) -> None:
        self.services = services
        self.spec = spec
        self.trigger = spec.trigger(services)
        self._next: datetime | None = self.trigger.get_next_fire_time(None, start)

    def next_fire_time(self, after: datetime) -> datetime | None:
        return self._next

    async def fire(self, now: datetime) -> None:
        try:
            self.spec.run(self.services, now)
        except Exception:
            logger.exception("simulated job {} failed", self.spec.id)
        prev = self._next if self._next is not None else now
        nxt = self.trigger.get_next_fire_time(prev, now)
        if nxt is not None and nxt <= now:  # coalesce runs we are already past, as live does
            nxt = self.trigger.get_next_fire_time(None, now + timedelta(microseconds=1))
        self._next = nxt


def sim_jobs(services: AppContext) -> list[Job]:
    """The scheduled jobs for `Simulation` (its default `jobs`)."""
    start = services.clock.now()
    return [SimJob(services, spec, start) for spec in JOBS.values()]


class RoomListCheck:
    """The live bot reads the room list again after the removal grace (bot.transport.adapter),
    which confirms rooms missing at login as removed. The simulation does the same on its
    virtual clock: first after the grace, then daily (hourly, as live, would only cost time)."""

    def __init__(self, check: Callable[[], Awaitable[None]], first: datetime) -> None:
        self._check = check
        self._next: datetime | None = first

    def next_fire_time(self, after: datetime) -> datetime | None:
        return self._next

    async def fire(self, now: datetime) -> None:
        try:
            await self._check()
        except Exception:
            logger.exception("simulated room list check failed")
        self._next = now + timedelta(days=1)
