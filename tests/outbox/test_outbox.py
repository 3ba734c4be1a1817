"""The outbox on a virtual clock: pacing, hourly cap, quiet hours, refusals, dedupe, recovery."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.core.clock import VirtualClock
from bot.core.config import Settings, load_settings
from bot.core.domain import OutgoingMessage
from bot.services.outbox import Delivery, Outbox, SendError
from policies import workcal
from storage import outbox as outbox_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade


class RecordingTransport:
    """Records (virtual time, delivery); refuses conversations in `refuse`."""

    def __init__(self, clock: VirtualClock, refuse: frozenset[str] = frozenset()) -> None:
        self.clock = clock
        self.refuse = refuse
        self.sent: list[tuple[datetime, Delivery]] = []
        self.attempts: list[tuple[datetime, str]] = []

    async def send(self, delivery: Delivery) -> None:
        who = delivery.recipient_id or delivery.room_id or ""
        self.attempts.append((self.clock.now(), who))
        if who in self.refuse:
            raise SendError(f"gateway refused the send to {who}")
        self.sent.append((self.clock.now(), delivery))


def _outbox(tmp_path: Path, start: str, **overrides: object) -> tuple[Outbox, VirtualClock, Settings]:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'q.db'}", **overrides)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    clock = VirtualClock(datetime.fromisoformat(start))
    return Outbox(engine, clock, settings, seed=7), clock, settings


def _queue(box: Outbox, n: int, kind: str = "owner_digest") -> None:
    for i in range(n):
        assert box.enqueue(OutgoingMessage(dedupe_key=f"contact:c{i:02d}|{kind}|p", text=f"第{i}条",
                                           kind=kind, period="p", recipient_id=f"c{i:02d}"))


async def _drain(box: Outbox, clock: VirtualClock, transport: RecordingTransport, limit: int = 9999) -> None:
    for _ in range(limit):
        wake = await box.step(transport)
        if wake is None:
            return
        clock.advance_to(wake)
    raise AssertionError("outbox did not drain")


async def test_fifty_messages_paced_and_inside_working_hours(tmp_path: Path) -> None:
    # Wednesday 2026-09-30 17:55: five minutes before the end of the day, then 国庆 (10-01..07).
    box, clock, settings = _outbox(tmp_path, "2026-09-30T17:55:00+08:00", send_hourly_cap=20)
    _queue(box, 50)
    transport = RecordingTransport(clock)
    await _drain(box, clock, transport)

    times = [at for at, _ in transport.sent]
    assert len(times) == 50
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert min(gaps) >= settings.send_interval_min
    for at in times:
        local = at.astimezone(settings.tz)
        assert workcal.is_working_time(local.replace(tzinfo=None)), local
        assert not (datetime(2026, 10, 1).date() <= local.date() <= datetime(2026, 10, 7).date())
    # The hourly cap holds in every sliding hour.
    for i, at in enumerate(times):
        assert sum(at <= t < at + timedelta(hours=1) for t in times[i:]) <= 20
    # Some left before 18:00; the rest waited for the first working day after the holiday.
    local_days = sorted({t.astimezone(settings.tz).date().isoformat() for t in times})
    assert local_days[0] == "2026-09-30"
    assert local_days[1] == "2026-10-08"


async def test_nothing_leaves_on_a_non_working_day(tmp_path: Path) -> None:
    # Saturday 2026-10-10 is an adjusted working day; Sunday 2026-10-11 is not.
    box, clock, settings = _outbox(tmp_path, "2026-10-11T10:00:00+08:00")
    _queue(box, 3)
    transport = RecordingTransport(clock)
    await _drain(box, clock, transport)
    first = transport.sent[0][0].astimezone(settings.tz)
    assert first.isoformat() == "2026-10-12T08:30:00+08:00"


async def test_adjusted_saturday_counts_as_working_day(tmp_path: Path) -> None:
    box, clock, settings = _outbox(tmp_path, "2026-10-10T10:00:00+08:00")
    _queue(box, 1)
    transport = RecordingTransport(clock)
    await _drain(box, clock, transport)
    assert transport.sent[0][0].astimezone(settings.tz).isoformat() == "2026-10-10T10:00:00+08:00"


async def test_refused_recipient_fails_after_bounded_retries_without_stalling(tmp_path: Path) -> None:
    box, clock, settings = _outbox(tmp_path, "2026-09-14T10:00:00+08:00", send_max_attempts=4)
    _queue(box, 5)
    transport = RecordingTransport(clock, refuse=frozenset({"c00"}))
    await _drain(box, clock, transport)

    assert [d.recipient_id for _, d in transport.sent] == ["c01", "c02", "c03", "c04"]
    tries = [at for at, who in transport.attempts if who == "c00"]
    assert len(tries) == settings.send_max_attempts
    # Polite retries: the gaps grow (1, 2, 4 minutes at least).
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(tries)]
    assert gaps == sorted(gaps)
    assert gaps[0] >= 60
    # The others did not wait behind it.
    assert transport.sent[-1][0] < tries[1]
    with session_scope(box._engine) as s:
        failed = outbox_db.outbox_rows(s, status="failed")
    assert len(failed) == 1
    assert failed[0].recipient_id == "c00"
    assert failed[0].error == "gateway refused the send to c00"


async def test_same_key_is_queued_once(tmp_path: Path) -> None:
    box, _, _ = _outbox(tmp_path, "2026-09-14T10:00:00+08:00")
    msg = OutgoingMessage(dedupe_key="contact:a|owner_digest|2026-W38", text="x", kind="owner_digest",
                          period="2026-W38", recipient_id="a")
    assert box.enqueue(msg) is True
    assert box.enqueue(msg) is False


async def test_row_left_sending_counts_as_sent(tmp_path: Path) -> None:
    box, clock, _ = _outbox(tmp_path, "2026-09-14T10:00:00+08:00")
    _queue(box, 2)
    with session_scope(box._engine) as s:
        row = outbox_db.claim_next_outbox(s, now=clock.now())
        assert row is not None
        row.status = "sending"  # a process died here, after recording intent
    assert box.recover() == 1
    transport = RecordingTransport(clock)
    await _drain(box, clock, transport)
    assert [d.recipient_id for _, d in transport.sent] == ["c01"]


@pytest.mark.parametrize("start", ["2026-09-25T10:00:00+08:00", "2026-10-04T12:00:00+08:00"])
def test_allowed_at_skips_holidays(tmp_path: Path, start: str) -> None:
    box, clock, settings = _outbox(tmp_path, start)
    nxt = box.allowed_at(clock.now()).astimezone(settings.tz)
    assert workcal.is_workday(nxt.date())
    assert nxt.time().isoformat() == "08:30:00"
