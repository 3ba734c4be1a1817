"""Answers about some groups equal the full audit's rows for those groups, at the same moment.

状态, 我的群, 保留 and 汇总 evaluate only the groups they are about and those groups' possible
duplicates (`bot.services.audit.evaluate_rooms`). These tests compare that with `run_audit`
on the township scenario, on the labels scenario (every label code), and on the benchmarks'
generated world with approvals added, on SQLite and on PostgreSQL: each group alone, each
person's managed groups, each township's groups, and through the real dispatch.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.services.audit import AuditRow, as_of, evaluate_rooms, run_audit
from policies.model import LABEL_CODES, should_go
from policies.rules import Rules, load_rules
from storage import approvals as approvals_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
TOWNSHIP = ROOT / "bot" / "sim" / "data" / "township.yaml"
LABELS = ROOT / "tests" / "labels" / "data" / "labels.yaml"


def _load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _benches() -> tuple[ModuleType, ModuleType]:
    audit = _load("qingqun_audit_bench", ROOT / "benchmarks" / "audit.py")
    return audit, _load("qingqun_commands_bench", ROOT / "benchmarks" / "commands.py")


def _key(row: AuditRow) -> tuple[Any, ...]:
    return (row.room, row.verdict, row.messages_30d, row.last_activity, row.pending)


def _compare(engine: Engine, rules: Rules, now: datetime, tz: Any, scopes: Iterable[list[str]]) -> set[str]:
    """Every scope's rows equal the full audit's; the label codes seen."""
    full = {r.room.id: r for r in run_audit(engine, rules, now, tz)[0]}
    codes: set[str] = set()
    compared = 0
    for ids in scopes:
        got = evaluate_rooms(engine, rules, now, tz, ids)
        assert sorted(got) == sorted(set(ids) & set(full))
        for room_id, row in got.items():
            assert _key(row) == _key(full[room_id]), room_id
            codes.update(lb.code for lb in row.verdict.labels)
            compared += 1
    assert compared
    return codes


def _managers(room: Any) -> list[str]:
    return [p for p in (room.owner_id, room.enrolled_by, *rooms_db.admin_ids(room)) if p]


def _scopes(engine: Engine, singles_every: int = 1) -> Iterator[list[str]]:
    """Each group alone (or every k-th, plus every labelled one), each person's managed groups,
    each unit's active groups."""
    with session_scope(engine) as s:
        rooms = rooms_db.all_rooms(s)
        people = sorted({p for r in rooms for p in _managers(r)})
        managed = [[r.id for r in rooms_db.managed_rooms(s, contact_id=p)] for p in people]
        units = sorted({r.unit for r in rooms}, key=str)
        by_unit = [rooms_db.active_room_ids_in_units(s, units=[u]) for u in units]
    for i, r in enumerate(rooms):
        if i % singles_every == 0:
            yield [r.id]
    yield from managed
    yield from by_unit


def _simulated(db_url: str, scenario: Path) -> tuple[Engine, Any, Any]:
    from bot.core.config import load_settings
    from bot.sim.scenario import load_scenario
    from bot.sim.simulate import run_simulation

    sc = load_scenario(scenario)
    settings = load_settings()
    engine = make_engine(db_url)
    upgrade(engine)
    run_simulation(sc, settings, engine)
    return engine, sc, settings


def test_township_answers_equal_the_full_audit(db_url: str) -> None:
    engine, sc, settings = _simulated(db_url, TOWNSHIP)
    try:
        rules = load_rules()
        end = sc.end or sc.start
        # At the end, and two weeks earlier (rooms active after that moment read their rows).
        for now in (end, end - timedelta(days=14)):
            codes = _compare(engine, rules, now, settings.tz, _scopes(engine))
            assert codes, now
    finally:
        engine.dispose()


def test_labels_scenario_answers_cover_every_label_code(db_url: str) -> None:
    engine, _, settings = _simulated(db_url, LABELS)
    try:
        now = as_of(date(2026, 12, 10), settings.tz)
        codes = _compare(engine, load_rules(), now, settings.tz, _scopes(engine))
        assert codes == set(LABEL_CODES)
    finally:
        engine.dispose()


@pytest.fixture
def generated(db_url: str) -> Iterator[tuple[Engine, ModuleType]]:
    """The audit benchmark's world of 400 groups, with a jurisdiction tree and some approvals:
    three labelled groups retained, three with a pending request."""
    audit, commands = _benches()
    target: Path | str = Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite") else db_url
    audit.build_db(target, 400)
    commands.add_directory(db_url, 400)
    engine = make_engine(db_url)
    rules = load_rules()
    now = audit.audit_now()
    rows, _ = run_audit(engine, rules, now, audit.TZ)
    going = [r.room.id for r in rows if any(map(should_go, r.verdict.labels))]
    assert len(going) > 10
    with session_scope(engine) as s:
        for i, room_id in enumerate(going[:6]):
            req = approvals_db.create_request(
                s, room_id=room_id, kind="retain", requested_by="x", at=now - timedelta(days=1), payload={}
            )
            if i < 3:
                approvals_db.decide_request(s, req=req, status="approved", by="y", at=now, reason=None)
    try:
        yield engine, audit
    finally:
        engine.dispose()


def test_generated_world_answers_equal_the_full_audit(generated: tuple[Engine, ModuleType]) -> None:
    engine, audit = generated
    rules = load_rules()
    now = audit.audit_now()
    with session_scope(engine) as s:
        retained = approvals_db.retained_room_ids(s)
        pending = approvals_db.pending_requests_by_room(s)
    assert len(retained) == 3
    assert len(pending) == 3
    ids = [r for r in [*retained, *pending]]
    codes = _compare(engine, rules, now, audit.TZ, [*([i] for i in ids), *_scopes(engine, singles_every=3)])
    assert codes == set(LABEL_CODES)
    # Five days earlier: the activity after that moment must not count.
    _compare(engine, rules, now - timedelta(days=5), audit.TZ, _scopes(engine, singles_every=7))


def test_commands_through_dispatch_agree_with_the_full_audit(generated: tuple[Engine, ModuleType]) -> None:
    from bot.commands.dispatch import dispatch
    from bot.core.clock import VirtualClock
    from bot.core.config import load_settings
    from bot.core.domain import ChatMessage
    from bot.services.context import AppContext

    engine, audit = generated
    url = engine.url.render_as_string(hide_password=False)
    settings = load_settings(database_url=url)
    now = datetime.combine(audit.AUDIT_DAY, datetime.min.time(), tzinfo=audit.TZ).replace(hour=19)
    services = AppContext(engine=engine, settings=settings, clock=VirtualClock(now))
    full = {r.room.id: r for r in run_audit(engine, services.rules, now, audit.TZ)[0]}
    active = sorted(rid for rid, r in full.items() if r.room.status == "active" and r.room.owner_id)
    asked = active[::9]
    for i, room_id in enumerate(asked):
        owner = full[room_id].room.owner_id
        dispatch(services, ChatMessage(room_id, owner or "", now + timedelta(seconds=i), command_text="状态"))
    supervisors = {"sup_t0": {"第0镇"}, "sup_t3": {"第3镇"}, "sup_county": None}
    for i, sup in enumerate(supervisors):
        dispatch(services, ChatMessage(None, sup, now + timedelta(minutes=5, seconds=i), command_text="汇总"))
    with session_scope(engine) as s:
        log = approvals_db.command_log(s)
    states = [r for r in log if r.command == "status"]
    assert [r.room_id for r in states] == asked
    for r in states:
        assert r.outcome == "ok"
        labels = json.loads(r.args)["labels"]
        assert labels == [lb.code for lb in full[r.room_id or ""].verdict.labels], r.room_id
    summaries = [r for r in log if r.command == "summary"]
    assert [r.sender_id for r in summaries] == list(supervisors)
    for r, units in zip(summaries, supervisors.values(), strict=True):
        rows = [
            x for x in full.values() if x.room.status == "active" and (units is None or x.room.unit in units)
        ]
        flagged = sum(1 for x in rows if any(map(should_go, x.verdict.labels)))
        # The requests carry no unit: only the county's supervisor sees them.
        pending = 3 if units is None else 0
        expected = {"groups": len(rows), "flagged": flagged, "pending": pending}
        assert json.loads(r.args) == expected, r.sender_id


def test_approvable_units_are_the_units_can_approve_accepts(db_url: str) -> None:
    from bot.commands.approvals import approvable_units, can_approve
    from storage import directory as directory_db

    engine, _, _ = _simulated(db_url, TOWNSHIP)
    try:
        with session_scope(engine) as s:
            units: list[str | None] = [u.name for u in directory_db.all_units(s)]
            units += [None, "不在名册的单位"]
            people = sorted(directory_db.contacts(s))
            assert any(c.role == "supervisor" for c in directory_db.contacts(s).values())
            for person in people:
                mine = approvable_units(s, person)
                accepted = {u for u in units if can_approve(s, person, u)}
                assert accepted == {u for u in units if u in mine}, person
    finally:
        engine.dispose()


def test_managed_rooms_equal_a_scan_of_every_room(db_url: str) -> None:
    engine, _, _ = _simulated(db_url, TOWNSHIP)
    try:
        with session_scope(engine) as s:
            # Administrators (the scenario names none): a member of each of some rooms.
            for r in rooms_db.all_rooms(s)[::3]:
                members = sorted(rooms_db.current_member_ids(s, room_id=r.id))
                r.admin_ids = json.dumps(members[:2])
        with session_scope(engine) as s:
            rooms = rooms_db.all_rooms(s)
            assert any(rooms_db.admin_ids(r) for r in rooms)
            people = sorted({p for r in rooms for p in _managers(r)})
            assert people
            for person in people:
                scanned = {r.id for r in rooms if r.status == "active" and rooms_db.is_manager(r, person)}
                assert {r.id for r in rooms_db.managed_rooms(s, contact_id=person)} == scanned, person
    finally:
        engine.dispose()
