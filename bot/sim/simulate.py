"""Replay a scenario through the real Wechaty class on a virtual clock.

Each bot account of the scenario gets its own App, Wechaty and puppet, all on one database and
one clock, in one shared world; the first account's App runs the scheduled jobs (the leader).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loguru import logger
from sqlalchemy.engine import Engine

from bot.app import App
from bot.core.clock import VirtualClock
from bot.core.config import Settings
from bot.services.context import AppContext
from bot.services.roster import Roster
from bot.sim.jobs import Job, RoomListCheck, sim_jobs
from bot.sim.puppet import SentMessage, SimPuppet, SimRoom, SimWorld
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
    for bot_id, bot_name in reversed(sc.bots):  # a name two bots share means the first
        names[bot_name] = bot_id
    ids = [names[n] for n in re.findall(r"@(\S+?)(?=[\s\u2005]|$)", text) if n in names]
    if mention_all:
        ids.append("notify@all")
    return ids


def _own_pools(bot: Any) -> None:
    """python-wechaty caches Room and Contact objects in class-level pools that every Wechaty in
    the process shares, and each object sends through the puppet of the Wechaty that loaded it
    first: one bot would send as another. Give each connection's bound classes pools of their own."""
    init_puppet = bot.init_puppet

    async def init_with_own_pools() -> None:
        await init_puppet()  # binds fresh classes to the puppet, on every connect
        for cls in (bot.Contact, bot.ContactSelf, bot.Room, bot.Tag):
            cls._pool = {}

    bot.init_puppet = init_with_own_pools


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
        self.world = SimWorld(self.clock.now)
        self.apps: dict[str, App] = {}
        self.puppets: dict[str, SimPuppet] = {}
        for bot_id, bot_name in sc.bots:
            # Several accounts: each instance serves its own (one bot keeps the settings as given).
            mine = (
                settings.model_copy(update={"account": bot_id, "bot_name": bot_name})
                if len(sc.bots) > 1
                else settings
            )
            self.apps[bot_id] = App(engine=engine, settings=mine, clock=self.clock, seed=0)
            self.puppets[bot_id] = SimPuppet(
                bot_id, bot_name, self.clock.now, wire_guard=self._wire_guard, world=self.world
            )
        self.app = self.apps[sc.bot_id]  # the leader: it runs the scheduled jobs
        self.puppet = self.puppets[sc.bot_id]
        self.adapters: dict[str, WechatyAdapter] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}  # each adapter's connection
        for c in sc.contacts.values():
            self.world.add_contact(c.id, c.name, c.friend, c.friend_of)
        for r in sc.rooms.values():
            self.world.add_room(SimRoom(r.id, r.topic, r.owner, list(r.members), list(r.admins)))
        # By default the live scheduler's jobs and triggers, fired on the virtual clock.
        self.jobs = (jobs or sim_jobs)(self.app.ctx)
        self._last_flush = self.clock.now()
        self.messages = 0

    def _wire_guard(self, kind: int, payload: str) -> str | None:
        return repair_wire_event(kind, payload, self.clock.now().timestamp())

    async def _flush_if_due(self, force: bool = False) -> None:
        now = self.clock.now()
        if force or (now - self._last_flush).total_seconds() >= self.settings.flush_interval:
            for app in self.apps.values():
                app.flush()
            self._last_flush = now

    async def run_until(self, target: datetime, keep: set[asyncio.Task[None]]) -> None:
        """Advance virtual time to `target`, delivering the outboxes and firing jobs on the way."""
        while True:
            now = self.clock.now()
            wakes = []
            for bot_id, app in self.apps.items():
                woke = await app.outbox.step(self.adapters[bot_id])
                await settle(keep)
                if woke is not None:
                    wakes.append(woke)
            wake = min(wakes) if wakes else None
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
        d, w = ev.data, self.world
        bot = str(d.get("bot") or self.sc.bot_id)  # the account an invite, removal or private say is about
        if ev.kind == "say":
            w.say(
                d["from"],
                d["text"],
                room_id=d["room"],
                mention_ids=_mentions(d["text"], self.sc, d["mention_all"]) if d["room"] else None,
                to=bot,
            )
            self.messages += 1
        elif ev.kind == "invite":
            w.join(d["room"], [bot], d["by"] or self.sc.rooms[d["room"]].owner)
        elif ev.kind == "join":
            w.join(d["room"], d["members"], d["by"])
        elif ev.kind == "leave":
            w.leave(d["room"], d["members"], d["by"])
        elif ev.kind == "topic":
            w.change_topic(d["room"], d["to"], d["by"])
        elif ev.kind == "remove_bot":
            w.leave(d["room"], [bot], d["by"])
        elif ev.kind == "dissolve":
            w.dissolve(d["room"], d["by"])
        elif ev.kind == "raw":
            self.puppets[bot].emit_raw(d["event"], d["payload"])

    async def login(self) -> set[asyncio.Task[None]]:
        """Connect every account, one after the other; returns their connection tasks."""
        grace = timedelta(seconds=self.settings.removal_grace)
        for bot_id, app in self.apps.items():
            adapter = WechatyAdapter(app, self.puppets[bot_id])
            _own_pools(adapter.bot)
            self.adapters[bot_id] = adapter
            self.tasks[bot_id] = await adapter.start()
            await asyncio.wait_for(adapter.logged_in.wait(), timeout=30)
            await settle(set(self.tasks.values()))
            self.jobs.append(RoomListCheck(adapter.check_rooms, self.clock.now() + grace))
        return set(self.tasks.values())

    async def run(self, until: datetime | None = None) -> SimResult:
        sc = self.sc
        roster = Roster(
            units=sc.units,
            people=list(sc.contacts.values()),
            room_created={r.id: r.created for r in sc.rooms.values() if r.created},
        )
        for app in self.apps.values():  # the writes are upserts; each App keeps the creation dates
            app.apply_roster(roster)
        self.app.outbox.recover()
        end = until or sc.end or (sc.events[-1].at if sc.events else sc.start)
        done = 0
        try:
            keep = await self.login()
            for ev in sc.events:
                if ev.at > end:
                    break
                await self.run_until(ev.at, keep)
                self.apply(ev)
                done += 1
                await settle(keep)
            await self.run_until(end, keep)
            await self._flush_if_due(force=True)
        finally:
            for bot_id, task in self.tasks.items():
                await self.adapters[bot_id].stop(task)
        logger.info("simulated {} events ({} messages) up to {}", done, self.messages, end.isoformat())
        return SimResult(list(self.world.sent), done, self.messages)


def write_transcript(sent: list[SentMessage], path: Path, sc: Scenario, settings: Settings) -> None:
    """One JSON line per message sent; `via` (the sending account) only when there are several."""
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
            if len(sc.bots) > 1:
                line["via"] = m.via
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
