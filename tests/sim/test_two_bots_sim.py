"""Two bot accounts in one simulation: one database, one clock, one shared world."""

from __future__ import annotations

import json
from pathlib import Path

from bot.core.config import load_settings
from bot.services.outbox import Delivery
from bot.sim.scenario import load_scenario
from bot.sim.simulate import Simulation, run_simulation, write_transcript
from storage import eventlog as eventlog_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

SCENARIOS = Path(__file__).parents[1] / "scenarios"
TWO_BOTS = SCENARIOS / "accounts" / "two_bots.yaml"


def test_two_bots_run_end_to_end_on_one_database(tmp_path: Path) -> None:
    sc = load_scenario(TWO_BOTS)
    settings = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'q.db'}", **sc.settings)
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        result = run_simulation(sc, settings, engine)
        with session_scope(engine) as s:
            logins = [e.actor_id for e in eventlog_db.events_of_kind(s, kind="account_login")]
            enrolled = {rid: rooms_db.get_room(s, room_id=rid) for rid in sc.rooms}
            assert all(room is not None and room.enrolled_at is not None for room in enrolled.values())
    finally:
        engine.dispose()
    assert logins == ["bot-a", "bot-b"]  # both logged in before the first event
    assert result.events == len(sc.events)
    assert result.sent  # greetings at least
    transcript = tmp_path / "t.jsonl"
    write_transcript(result.sent, transcript, sc, settings)
    lines = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(result.sent)
    assert all(line["via"] in {"bot-a", "bot-b"} for line in lines)


async def test_each_bot_sends_through_its_own_account(tmp_path: Path) -> None:
    """python-wechaty's Room and Contact objects are cached process-wide: without pools of their
    own, the second bot would send through the first bot's puppet."""
    sc = load_scenario(TWO_BOTS)
    settings = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'q.db'}")
    engine = make_engine(settings.db_url)
    upgrade(engine)
    sim = Simulation(sc, settings, engine)
    try:
        await sim.login()
        assert all(adapter.logged_in.is_set() for adapter in sim.adapters.values())
        assert [app.bot_id for app in sim.apps.values()] == ["bot-a", "bot-b"]
        assert [app.settings.account for app in sim.apps.values()] == ["bot-a", "bot-b"]
        assert [app.settings.bot_name for app in sim.apps.values()] == ["清群助手", "清群助手二号"]
        for bot_id in ("bot-a", "bot-b", "bot-a"):
            await sim.adapters[bot_id].send(Delivery(0, "在群里", None, "r0@chatroom", ()))
            await sim.adapters[bot_id].send(Delivery(0, "私聊", "zhao", None, ()))
    finally:
        for bot_id, task in sim.tasks.items():
            await sim.adapters[bot_id].stop(task)
        engine.dispose()
    assert [(m.via, m.room_id, m.to_id) for m in sim.world.sent] == [
        ("bot-a", "r0@chatroom", None),
        ("bot-a", None, "zhao"),
        ("bot-b", "r0@chatroom", None),
        ("bot-b", None, "zhao"),
        ("bot-a", "r0@chatroom", None),
        ("bot-a", None, "zhao"),
    ]


def test_a_one_bot_transcript_has_no_via(tmp_path: Path) -> None:
    sc = load_scenario(Path(__file__).parents[1] / "core" / "data" / "core.yaml")
    settings = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'q.db'}")
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        result = run_simulation(sc, settings, engine)
    finally:
        engine.dispose()
    assert {m.via for m in result.sent} == {"qingqun-bot"}
    transcript = tmp_path / "t.jsonl"
    write_transcript(result.sent, transcript, sc, settings)
    lines = transcript.read_text(encoding="utf-8").splitlines()
    assert lines
    assert not any("via" in json.loads(line) for line in lines)
