"""Two bot accounts on one database (SQLite and PostgreSQL), driven through the real Wechaty class:
a shared group is counted once and handed over when its observer is removed, each digest goes
out through an account that can reach its recipient, and pacing and the hourly cap are per account."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.core.config import load_settings
from bot.sim.scenario import load_scenario
from bot.sim.simulate import run_simulation
from storage import accounts as accounts_db
from storage import eventlog as eventlog_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import DailyActivity

SCENARIO = Path(__file__).parent / "accounts" / "fleet.yaml"
FRIENDS = {"a1": "bot-a", "a2": "bot-a", "a3": "bot-a", "b1": "bot-b", "b2": "bot-b", "b3": "bot-b"}


def test_two_accounts_count_once_route_right_and_pace_apart(db_url: str, tmp_path: Path) -> None:
    sc = load_scenario(SCENARIO)
    settings = load_settings(data_dir=tmp_path, database_url=db_url, **sc.settings)
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        result = run_simulation(sc, settings, engine)
        with session_scope(engine) as s:
            days = s.scalars(select(DailyActivity).where(DailyActivity.room_id == "r0@chatroom"))
            counted = sum(d.messages for d in days)
            room = rooms_db.get_room(s, room_id="r0@chatroom")
            assert room is not None
            status, observer = room.status, room.observer_id
            handovers = [e.subjects for e in eventlog_db.events_of_kind(s, kind="account_left")]
            presence = accounts_db.present_accounts(s, room_id="rb1@chatroom")
            members = rooms_db.current_member_ids(s, room_id="ra1@chatroom")
            shared = (rooms_db.current_member_ids(s, room_id="r0@chatroom"), room.member_count)
    finally:
        engine.dispose()

    # Both accounts saw all 9 messages of the shared group; each counts once. The 3 after bot-a
    # was removed were counted by bot-b, which took over observing.
    assert counted == 9
    assert handovers == ['["bot-a"]']
    # Removed only once no account was left in it.
    assert (status, observer) == ("removed", None)
    assert presence == ["bot-b"]
    assert members == {"a1", "m1"}  # bot accounts are never members
    # bot-a logged in first and saw bot-b in the group before knowing it for an account.
    assert shared == ({"zhang", "li"}, 2)

    digests = [m for m in result.sent if "【清群周报】" in m.text]
    private = {m.to_id: m.via for m in digests if m.to_id}
    assert private == FRIENDS  # each through the one account the owner is a friend of
    (mention,) = [m for m in digests if m.room_id]
    assert (mention.room_id, mention.mention_ids, mention.via) == ("rw@chatroom", ("wang",), "bot-a")

    cap, gap = settings.send_hourly_cap, timedelta(seconds=settings.send_interval_min)
    for account in ("bot-a", "bot-b"):
        times = sorted(m.at for m in digests if m.via == account)
        assert times, account
        for i, t in enumerate(times):
            assert sum(t <= u < t + timedelta(hours=1) for u in times[i:]) <= cap, account
        assert all(b - a >= gap for a, b in itertools.pairwise(times)), account
    first = min(m.at for m in digests)
    in_first_hour = [m for m in digests if m.at < first + timedelta(hours=1)]
    assert len(in_first_hour) == 2 * cap  # two accounts, two caps
