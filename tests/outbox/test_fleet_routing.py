"""Several accounts on one database: routing to an account that can reach the recipient, delivery
and pacing per account, and queued room messages following a handover."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.core.clock import VirtualClock
from bot.core.config import Settings, load_settings
from bot.core.domain import OutgoingMessage
from bot.services.outbox import Delivery, Outbox
from storage import accounts as accounts_db
from storage import directory as directory_db
from storage import outbox as outbox_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

START = datetime.fromisoformat("2026-11-02T09:30:00+08:00")  # a Monday, a working day


class Recorder:
    """The network side of one account: what it sent, and when."""

    def __init__(self, clock: VirtualClock, account: str) -> None:
        self.clock = clock
        self.account = account
        self.sent: list[tuple[datetime, Delivery]] = []

    async def send(self, delivery: Delivery) -> None:
        self.sent.append((self.clock.now(), delivery))


ENGINES: list[Engine] = []


@pytest.fixture(autouse=True)
def _dispose() -> Iterator[None]:
    """Close every engine a test made: PostgreSQL connections left open fail later tests."""
    yield
    while ENGINES:
        ENGINES.pop().dispose()


def _world(
    db_url: str, accounts: tuple[str, ...] = ("a1", "a2"), **overrides: object
) -> tuple[Engine, Settings]:
    settings = load_settings(database_url=db_url, **overrides)
    engine = make_engine(settings.db_url)
    ENGINES.append(engine)
    upgrade(engine)
    with session_scope(engine) as s:
        for a in accounts:
            accounts_db.record_login(s, account_id=a, name=f"清群{a}", room_limit=300, at=START)
        for cid, friend in (("c1", True), ("c2", True), ("c3", False), ("c4", True)):
            directory_db.upsert_contact(s, contact_id=cid, name=cid, friend=friend)
        s.flush()
        if "a2" in accounts:
            accounts_db.note_friendship(s, contact_id="c1", account_id="a1", friend=True)
            accounts_db.note_friendship(s, contact_id="c2", account_id="a2", friend=True)
        for rid, present in (("r1", ("a1",)), ("r2", ("a2",)), ("r3", ("a1", "a2"))):
            room, _ = rooms_db.enrol_room(
                s, room_id=rid, topic=rid, owner_id="c1", admin_ids=(), member_ids=("c1",), by=None, at=START
            )
            for a in present:
                if a in accounts:
                    accounts_db.enter_room(s, room=room, account_id=a, at=START)
    return engine, settings


def _msg(key: str, *, to: str | None = None, room: str | None = None) -> OutgoingMessage:
    mentions = ("c1",) if room else ()
    return OutgoingMessage(
        dedupe_key=key,
        text="周报",
        kind="owner_digest",
        period="w",
        recipient_id=to,
        room_id=room,
        mentions=mentions,
    )


def _rows(engine: Engine) -> dict[str, tuple[str | None, str, str | None]]:
    with session_scope(engine) as s:
        return {o.dedupe_key: (o.account_id, o.status, o.error) for o in outbox_db.outbox_rows(s)}


def test_each_message_goes_through_an_account_that_can_reach_it(db_url: str) -> None:
    engine, settings = _world(db_url)
    box = Outbox(engine, VirtualClock(START), settings)
    added = sum(
        box.enqueue_many(
            [
                _msg("p1", to="c1"),
                _msg("p2", to="c2"),
                _msg("p3", to="c3"),
                _msg("p4", to="c4"),
                _msg("g1", room="r1"),
                _msg("g2", room="r2"),
                _msg("g3", room="r3"),
            ]
        )
    )
    assert added == 7
    rows = _rows(engine)
    assert rows["p1"][:2] == ("a1", "pending")  # c1 is a1's friend only
    assert rows["p2"][:2] == ("a2", "pending")
    assert rows["p3"] == (None, "failed", accounts_db.UNREACHABLE)  # nobody's friend: reported, not sent
    assert rows["p4"][0] in ("a1", "a2")  # a friend of "every account" (no list recorded)
    assert rows["g1"][0] == "a1"
    assert rows["g2"][0] == "a2"
    assert rows["g3"][0] in ("a1", "a2")
    # Queued twice (a rerun, another instance): nothing new, anywhere in the fleet.
    assert box.enqueue_many([_msg("p1", to="c1"), _msg("g3", room="r3")]) == [False, False]


def test_a_round_is_spread_evenly_over_the_accounts_that_can_reach(db_url: str) -> None:
    engine, settings = _world(db_url)
    box = Outbox(engine, VirtualClock(START), settings)
    box.enqueue_many(
        [_msg(f"k{i}", to="c4") for i in range(1)] + [_msg(f"r{i}", room="r3") for i in range(1)]
    )
    with session_scope(engine) as s:
        for i in range(40):
            directory_db.upsert_contact(s, contact_id=f"x{i}", name=f"x{i}", friend=True)
    box.enqueue_many([_msg(f"x{i}", to=f"x{i}") for i in range(40)])
    with session_scope(engine) as s:
        load = accounts_db.pending_counts(s)
    assert abs(load["a1"] - load["a2"]) <= 1, load


def test_one_account_tries_as_before_even_for_a_non_friend(db_url: str) -> None:
    engine, settings = _world(db_url, accounts=("a1",))
    Outbox(engine, VirtualClock(START), settings).enqueue(_msg("p3", to="c3"))
    assert _rows(engine)["p3"][:2] == ("a1", "pending")


async def test_pacing_and_the_hourly_cap_hold_per_account(db_url: str) -> None:
    engine, settings = _world(db_url, send_hourly_cap=20)
    clock = VirtualClock(START)
    with session_scope(engine) as s:
        for i in range(60):
            cid = f"f{i}"
            directory_db.upsert_contact(s, contact_id=cid, name=cid, friend=True)
            s.flush()
            accounts_db.note_friendship(s, contact_id=cid, account_id="a1" if i % 2 else "a2", friend=True)
    Outbox(engine, clock, settings).enqueue_many([_msg(f"f{i}", to=f"f{i}") for i in range(60)])
    boxes = {a: Outbox(engine, clock, settings, seed=1, account=lambda a=a: a) for a in ("a1", "a2")}
    wires = {a: Recorder(clock, a) for a in boxes}
    wake = {a: clock.now() for a in boxes}
    for _ in range(5000):
        due = [a for a, t in wake.items() if t is not None and t <= clock.now()]
        for a in due:
            wake[a] = await boxes[a].step(wires[a])
        later = [t for t in wake.values() if t is not None]
        if not later:
            break
        clock.advance_to(max(clock.now(), min(later)))
    sent = {a: [(t, d.recipient_id) for t, d in w.sent] for a, w in wires.items()}
    assert sum(len(v) for v in sent.values()) == 60
    with session_scope(engine) as s:
        friends = accounts_db.reach_of(s, contact_ids=[f"f{i}" for i in range(60)])
    for a, items in sent.items():
        assert len(items) == 30
        assert all(a in friends[cid or ""] for _, cid in items)  # only its own friends
        times = [t for t, _ in items]
        for i, t in enumerate(times):
            assert sum(t <= u < t + timedelta(hours=1) for u in times[i:]) <= 20  # its own cap
        assert min((b - t).total_seconds() for t, b in itertools.pairwise(times)) >= 3.0
    # Two accounts, two caps: 40 went out in the first hour, not 20.
    first_hour = [t for v in sent.values() for t, _ in v if t < START + timedelta(hours=1)]
    assert len(first_hour) == 40


def test_queued_room_messages_follow_the_handover(db_url: str) -> None:
    engine, settings = _world(db_url)
    box = Outbox(engine, VirtualClock(START), settings)
    with session_scope(engine) as s:
        room = rooms_db.get_room(s, room_id="r3")
        assert room is not None
        assert room.observer_id == "a1"
    box.enqueue(OutgoingMessage(dedupe_key="n1", text="提醒", room_id="r3", account_id="a1"))
    with session_scope(engine) as s:
        room = rooms_db.get_room(s, room_id="r3")
        assert room is not None
        assert accounts_db.leave_room(s, room=room, account_id="a1") == "a2"
        assert room.observer_id == "a2"
    assert _rows(engine)["n1"][:2] == ("a2", "pending")
    with session_scope(engine) as s:
        room = rooms_db.get_room(s, room_id="r3")
        assert room is not None
        assert accounts_db.leave_room(s, room=room, account_id="a2") is None
    assert _rows(engine)["n1"] == ("a2", "failed", accounts_db.UNREACHABLE)
