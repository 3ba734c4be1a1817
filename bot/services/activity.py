"""In-memory activity counters, flushed in batches: the hot path never opens a transaction."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from policies import workcal
from storage import activity as activity_db
from storage.activity import DayCounters
from storage.db import session_scope


@lru_cache(maxsize=4096)
def _is_workday(day: date) -> bool:
    return workcal.is_workday(day)


class ActivityRecorder:
    """Counts messages per room and local day; `flush()` writes and clears them in one transaction.

    Only counts, sender ids and times are kept: the recorder never sees message text.
    """

    def __init__(self, engine: Engine, tz: ZoneInfo, work_start: str = "08:30", work_end: str = "18:00"):
        self._engine = engine
        self._tz = tz
        self._start = tuple(int(x) for x in work_start.split(":"))
        self._end = tuple(int(x) for x in work_end.split(":"))
        self._days: dict[tuple[str, date], DayCounters] = {}
        self._senders: dict[tuple[str, date, str], int] = {}
        self.pending = 0

    def record(self, room_id: str, sender_id: str, at: datetime, mention_all: bool = False) -> None:
        local = at.astimezone(self._tz)
        day = local.date()
        key = (room_id, day)
        counters = self._days.get(key)
        if counters is None:
            counters = self._days[key] = DayCounters()
        counters.messages += 1
        if mention_all:
            counters.mention_all += 1
        hm = (local.hour, local.minute)
        if not (self._start <= hm < self._end) or not _is_workday(day):
            counters.after_hours += 1
        if counters.last_at is None or at > counters.last_at:
            counters.last_at = at
        skey = (room_id, day, sender_id)
        self._senders[skey] = self._senders.get(skey, 0) + 1
        self.pending += 1

    def take(self) -> tuple[dict[tuple[str, date], DayCounters], dict[tuple[str, date, str], int]]:
        """Swap out the current batch (cheap, so the event loop never waits on the database)."""
        days, senders = self._days, self._senders
        self._days, self._senders, self.pending = {}, {}, 0
        return days, senders

    def restore(
        self, days: dict[tuple[str, date], DayCounters], senders: dict[tuple[str, date, str], int]
    ) -> None:
        """Put a batch that could not be written back, so nothing is lost."""
        for key, c in days.items():
            mine = self._days.setdefault(key, DayCounters())
            mine.messages += c.messages
            mine.mention_all += c.mention_all
            mine.after_hours += c.after_hours
            if c.last_at and (mine.last_at is None or c.last_at > mine.last_at):
                mine.last_at = c.last_at
            self.pending += c.messages
        for skey, n in senders.items():
            self._senders[skey] = self._senders.get(skey, 0) + n

    def write(
        self, days: dict[tuple[str, date], DayCounters], senders: dict[tuple[str, date, str], int]
    ) -> None:
        if days:
            with session_scope(self._engine) as session:
                activity_db.flush_activity(session, days=days, senders=senders)

    async def flush_async(self) -> int:
        """Swap the batch on the event loop (where `record` runs), write it in a worker thread.

        A batch whose write fails goes back to the recorder. On cancellation (shutdown) the
        write in flight is awaited first, so the final flush never races it.
        """
        days, senders = self.take()
        n = sum(c.messages for c in days.values())
        write = asyncio.ensure_future(asyncio.to_thread(self.write, days, senders))
        try:
            await asyncio.shield(write)
        except asyncio.CancelledError:
            with suppress(Exception):
                await write
            if write.exception() is not None:
                self.restore(days, senders)
            raise
        except Exception:
            self.restore(days, senders)
            raise
        return n

    def flush(self) -> int:
        """Write everything counted so far; returns the number of messages written."""
        n = self.pending
        self.write(*self.take())
        return n
