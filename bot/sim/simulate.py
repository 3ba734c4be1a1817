"""Replay a scenario through the real Wechaty class on a virtual clock."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from loguru import logger
from sqlalchemy.engine import Engine

from bot.app import App
from bot.core.clock import VirtualClock
from bot.core.config import Settings
from bot.services.context import AppContext
from bot.services.roster import Roster
from bot.sim.jobs import Job, RoomListCheck, sim_jobs
from bot.sim.puppet import SentMessage, SimPuppet, SimRoom
from bot.sim.scenario import Event, Scenario
from bot.transport.adapter import CONNECTION_TASK, WechatyAdapter
from bot.transport.guard import repair_wire_event


@dataclass
class SimResult:
    sent: list[SentMessage]
    events: int
    messages: int


async def settle(exclude: set[asyncio.Task[None]]) -> None:
    """Wait until every task the last event spawned (Wechaty listeners, our handlers) is done."""
    me = asyncio.current_task()
    for _ in range(10_000):
        await asyncio.sleep(0)
        pending = [
            t
            for t in asyncio.all_tasks()
            if t is not me and t not in exclude and not t.done() and t.get_name() != CONNECTION_TASK
        ]
        if not pending:
            return
        await asyncio.wait(pending, timeout=5)
    raise RuntimeError("simulation did not settle")


def _mentions(text: str, sc: Scenario, mention_all: bool) -> list[str]:
    names = {c.name: c.id for c in sc.contacts.values()}
    names[sc.bot_name] = sc.bot_id
    ids = [names[n] for n in re.findall(r"@(\S+?)(?=[\s\u2005]|$)", text) if n in names]
    if mention_all:
        ids.append("notify@all")
    return ids


class Simulation:
    def __init__(
        self,
        sc: Scenario,
        settings: Settings,
        engine: Engine,
        jobs: Callable[[AppContext], list[Job]] | None = None,
    ) -> None:
        self.sc = sc
        self.settings = settings
        self.clock = VirtualClock(sc.start)
        self.app = App(engine=engine, settings=settings, clock=self.clock, seed=0)
        self.puppet = SimPuppet(
            sc.bot_id,
            sc.bot_name,
            self.clock.now,
            wire_guard=lambda kind, payload: repair_wire_event(kind, payload, self.clock.now().timestamp()),
        )
        for c in sc.contacts.values():
            self.puppet.add_contact(c.id, c.name, c.friend)
        for r in sc.rooms.values():
            self.puppet.add_room(SimRoom(r.id, r.topic, r.owner, list(r.members), list(r.admins)))
        # By default the live scheduler's jobs and triggers, fired on the virtual clock.
        self.jobs = (jobs or sim_jobs)(self.app.ctx)
        self._last_flush = self.clock.now()
        self.messages = 0

    async def _flush_if_due(self, force: bool = False) -> None:
        now = self.clock.now()
        if force or (now - self._last_flush).total_seconds() >= self.settings.flush_interval:
            self.app.flush()
            self._last_flush = now

    async def run_until(
        self, target: datetime, adapter: WechatyAdapter, keep: set[asyncio.Task[None]]
    ) -> None:
        """Advance virtual time to `target`, delivering the outbox and firing jobs on the way."""
        while True:
            now = self.clock.now()
            wake = await self.app.outbox.step(adapter)
            await settle(keep)
            times = [t for t in (j.next_fire_time(now) for j in self.jobs) if t is not None]
            job_at = min(times) if times else None
            if job_at is not None and job_at <= now:
                await self._flush_if_due(force=True)
                for job in self.jobs:
                    t = job.next_fire_time(now)
                    if t is not None and t <= now:
                        await job.fire(now)
                await settle(keep)
                continue
            candidates = [t for t in (wake, job_at) if t is not None and t > now]
            nxt = min(candidates) if candidates else None
            if nxt is None or nxt > target:
                break
            self.clock.advance_to(nxt)
            await self._flush_if_due()
        self.clock.advance_to(target)

    def apply(self, ev: Event) -> None:
        d, p = ev.data, self.puppet
        if ev.kind == "say":
            p.say(
                d["from"],
                d["text"],
                room_id=d["room"],
                mention_ids=_mentions(d["text"], self.sc, d["mention_all"]) if d["room"] else None,
            )
            self.messages += 1
        elif ev.kind == "invite":
            p.join(d["room"], [self.sc.bot_id], d["by"] or self.sc.rooms[d["room"]].owner)
        elif ev.kind == "join":
            p.join(d["room"], d["members"], d["by"])
        elif ev.kind == "leave":
            p.leave(d["room"], d["members"], d["by"])
        elif ev.kind == "topic":
            p.change_topic(d["room"], d["to"], d["by"])
        elif ev.kind == "remove_bot":
            p.leave(d["room"], [self.sc.bot_id], d["by"])
        elif ev.kind == "dissolve":
            p.dissolve(d["room"], d["by"])
        elif ev.kind == "raw":
            p.emit_raw(d["event"], d["payload"])

    async def run(self, until: datetime | None = None) -> SimResult:
        sc = self.sc
        self.app.apply_roster(
            Roster(
                units=sc.units,
                people=list(sc.contacts.values()),
                room_created={r.id: r.created for r in sc.rooms.values() if r.created},
            )
        )
        self.app.outbox.recover()
        adapter = WechatyAdapter(self.app, self.puppet)
        task = await adapter.start()
        keep = {task}
        await asyncio.wait_for(adapter.logged_in.wait(), timeout=30)
        await settle(keep)
        grace = timedelta(seconds=self.settings.removal_grace)
        self.jobs.append(RoomListCheck(adapter.check_rooms, self.clock.now() + grace))
        end = until or sc.end or (sc.events[-1].at if sc.events else sc.start)
        done = 0
        try:
            for ev in sc.events:
                if ev.at > end:
                    break
                await self.run_until(ev.at, adapter, keep)
                self.apply(ev)
                done += 1
                await settle(keep)
            await self.run_until(end, adapter, keep)
            await self._flush_if_due(force=True)
        finally:
            await adapter.stop(task)
        logger.info("simulated {} events ({} messages) up to {}", done, self.messages, end.isoformat())
        return SimResult(list(self.puppet.sent), done, self.messages)


def write_transcript(sent: list[SentMessage], path: Path, sc: Scenario, settings: Settings) -> None:
    rooms = set(sc.rooms)
    with path.open("w", encoding="utf-8") as fh:
        for m in sent:
            line: dict[str, object] = {
                "at": m.at.astimezone(settings.tz).isoformat(),
                "to": None if m.conversation_id in rooms else m.conversation_id,
                "room": m.conversation_id if m.conversation_id in rooms else None,
                "text": m.text,
            }
            if m.mention_ids:
                line["mentions"] = list(m.mention_ids)
            if m.file_name is not None:
                line["file"] = m.file_name
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def run_simulation(
    sc: Scenario,
    settings: Settings,
    engine: Engine,
    until: datetime | None = None,
    jobs: Callable[[AppContext], list[Job]] | None = None,
) -> SimResult:
    sim = Simulation(sc, settings, engine, jobs)
    result: Awaitable[SimResult] = sim.run(until)
    return asyncio.run(result)  # type: ignore[arg-type]
