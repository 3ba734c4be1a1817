"""Properties of the engine over generated facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.engine import evaluate
from policies.model import DayActivity, Label, RoomFacts
from policies.rules import Rules, load_rules

RULES: Rules = load_rules()
BASE = datetime(2026, 11, 15, 2, 0, tzinfo=UTC)
EXPIRY = {"temporary_expired", "phase_expired", "suspected_phase_expired", "ending_soon"}

topics = st.sampled_from(
    [
        "2024年秋季征兵工作群",
        "黑龙潭镇党政办工作群",
        "国庆值班群",
        "迎检临时群",
        "相亲相爱一家人",
        "2026年冬季森林防火",
        "🎉",
    ]
)
members = st.frozensets(st.sampled_from([f"m{i}" for i in range(8)]), max_size=8)
day_activity = st.builds(
    lambda off, n, a, m: DayActivity(date(2026, 11, 15) - timedelta(days=off), n, min(a, n), min(m, n), 1),
    st.integers(0, 60),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 10),
)


@st.composite
def facts(draw: st.DrawFn, room_id: str = "r") -> RoomFacts:
    kind = draw(st.sampled_from([None, "standing", "temporary", "phase"]))
    enrolled = BASE - timedelta(hours=draw(st.integers(0, 24 * 400)))
    last = draw(st.none() | st.integers(0, 24 * 400).map(lambda h: BASE - timedelta(hours=h)))
    return RoomFacts(
        room_id=room_id,
        topic=draw(topics),
        owner_id=draw(st.none() | st.sampled_from(["m0", "m1", "zz"])),
        status=draw(st.sampled_from(["active", "active", "active", "dissolved", "removed"])),
        kind=kind,
        end_date=draw(st.none() | st.dates(date(2024, 1, 1), date(2027, 12, 31))),
        approved=draw(st.booleans()),
        enrolled_at=enrolled,
        member_ids=draw(members),
        last_activity=last,
        created_on=draw(st.none() | st.dates(date(2023, 1, 1), date(2026, 11, 15))),
        daily=tuple(draw(st.lists(day_activity, max_size=6, unique_by=lambda d: d.day))),
    )


rooms = st.lists(facts(), min_size=1, max_size=6).map(
    lambda fs: [
        RoomFacts(**{**{s: getattr(f, s) for s in RoomFacts.__slots__}, "room_id": f"r{i}"})
        for i, f in enumerate(fs)
    ]
)
moments = st.integers(0, 24 * 500).map(lambda h: BASE + timedelta(hours=h))


@settings(max_examples=60, deadline=None)
@given(rooms, moments)
def test_deterministic(fs: list[RoomFacts], now: datetime) -> None:
    assert evaluate(fs, RULES, now) == evaluate(fs, RULES, now)
    assert [v.room_id for v in evaluate(fs, RULES, now)] == [f.room_id for f in fs]


@settings(max_examples=60, deadline=None)
@given(facts(), moments, st.integers(1, 2000))
def test_expired_stays_expired(f: RoomFacts, now: datetime, later_hours: int) -> None:
    def expiry(at: datetime) -> set[str]:
        [v] = evaluate([f], RULES, at)
        return {lb.code for lb in v.labels} & {
            "temporary_expired",
            "phase_expired",
            "suspected_phase_expired",
        }

    assert expiry(now) <= expiry(now + timedelta(hours=later_hours))


@settings(max_examples=60, deadline=None)
@given(facts(), moments)
def test_approved_standing_never_expires(f: RoomFacts, now: datetime) -> None:
    f = RoomFacts(**{**{s: getattr(f, s) for s in RoomFacts.__slots__}, "kind": "standing", "approved": True})
    [v] = evaluate([f], RULES, now)
    assert not {lb.code for lb in v.labels} & EXPIRY


def key_number(label: Label) -> str | None:
    ev = label.evidence
    key = {
        "temporary_expired": "days_overdue",
        "phase_expired": "days_overdue",
        "suspected_phase_expired": "days_overdue",
        "idle": "idle_days",
        "unregistered": "days_enrolled",
        "ending_soon": "days_left",
        "after_hours": "percent",
        "mention_all_heavy": "mention_all",
        "duplicate": "percent",
    }.get(label.code)
    return None if key is None else str(ev[key])


@settings(max_examples=80, deadline=None)
@given(rooms, moments)
def test_every_label_explains_itself(fs: list[RoomFacts], now: datetime) -> None:
    for v in evaluate(fs, RULES, now):
        for label in v.labels:
            assert label.reason
            assert label.rule_id
            number = key_number(label)
            if number is not None:
                assert number in label.reason, (label.code, label.reason)
            if label.code == "suspected_phase_expired":
                assert str(label.evidence["inferred_end_date"]) in label.reason
