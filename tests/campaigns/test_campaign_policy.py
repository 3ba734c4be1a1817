"""The pure campaign computations on hand-made facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from policies.campaign import (
    BaselineGroup,
    GroupAt,
    Twin,
    UnitFigures,
    behind,
    best_twins,
    figures,
    row_units,
)
from policies.rules import DuplicateRules

BASE_END = datetime(2026, 10, 12, 15, 59, 59, tzinfo=UTC)
PARENTS: dict[str, str | None] = {"区": None, "甲镇": "区", "甲村": "甲镇", "乙镇": "区", "外县": None}


def _at(room_id: str, unit: str | None, status: str = "active", late: bool = False) -> GroupAt:
    enrolled = BASE_END + timedelta(days=3) if late else BASE_END - timedelta(days=30)
    return GroupAt(room_id, room_id, unit, "o", status, None, enrolled, None, None, ())


def test_rows_follow_the_tree() -> None:
    children, row_of = row_units(PARENTS, "区")
    assert children == ["乙镇", "甲镇"]
    assert row_of == {"区": "区", "甲镇": "甲镇", "甲村": "甲镇", "乙镇": "乙镇"}


def test_figures_count_each_field_by_its_definition() -> None:
    baseline = [
        BaselineGroup("b1", "甲村", "b1", "o"),  # disbanded into b2
        BaselineGroup("b2", "甲镇", "b2", "o"),
        BaselineGroup("b3", "甲镇", "b3", "o"),  # disbanded
        BaselineGroup("b4", "乙镇", "b4", "o"),  # bot removed: still alive
        BaselineGroup("b5", "外县", "b5", "o"),  # outside the scope
    ]
    groups = {
        "b1": _at("b1", "甲村", "dissolved"),
        "b2": _at("b2", "甲镇"),
        "b3": _at("b3", "甲镇", "dissolved"),
        "b4": _at("b4", "乙镇", "removed"),
        "b5": _at("b5", "外县"),
        "n1": _at("n1", "甲村", late=True),
        "n2": _at("n2", "乙镇", "dissolved", late=True),  # new but gone: not counted
        "n3": _at("n3", None, late=True),  # no unit: in no scope
    }
    rows, total = figures(
        parents=PARENTS, root="区", baseline=baseline, groups=groups, merged={"b1"}, baseline_end=BASE_END
    )
    assert [r.as_json() for r in rows] == [
        {
            "unit": "乙镇",
            "baseline": 1,
            "dissolved": 0,
            "merged": 0,
            "removed": 1,
            "new": 0,
            "active": 1,
            "reduction_pct": 0.0,
        },
        {
            "unit": "甲镇",
            "baseline": 3,
            "dissolved": 1,
            "merged": 1,
            "removed": 0,
            "new": 1,
            "active": 2,
            "reduction_pct": 33.33,
        },
    ]
    assert total == UnitFigures("区", 4, 1, 1, 1, 1, 3)
    assert total.reduction_pct == 25.0
    assert UnitFigures("x", 0, 0, 0, 0, 2, 2).reduction_pct is None
    assert [r.unit for r in behind([*rows, UnitFigures("x", 0, 0, 0, 0, 2, 2)])] == ["乙镇", "甲镇"]


def test_best_twins_pairs_only_across_the_two_sides() -> None:
    rule = DuplicateRules()
    gone = {"g1": {"a", "b", "c", "d"}, "g2": {"a", "b", "c", "d"}}
    alive = {"k1": {"a", "b", "c", "d", "e"}, "k2": {"a", "b", "c", "d"}, "k3": {"x", "y", "z"}}
    twins = best_twins(gone, alive, rule)
    # g1 and g2 are each other's twins too, but both gone; each takes the closest live one.
    assert twins == {"g1": Twin("k2", 4, 4), "g2": Twin("k2", 4, 4)}
    assert twins["g1"].percent == 100
    assert best_twins({"g": {"a", "b"}}, {"k": {"a", "b"}}, rule) == {}  # below min_members
    assert best_twins({}, alive, rule) == {}


def test_progress_and_days_left_texts() -> None:
    from bot.cli.campaign import days_left_text, progress_text

    assert progress_text(20.0, 40.0) == "50%（20.00/40）"
    assert progress_text(45.0, 40.0) == "已达标（45.00/40）"
    assert progress_text(-10.0, 40.0) == "0%（-10.00/40）"
    assert progress_text(None, 40.0) == "-"
    assert progress_text(12.5, None) == "12.50%"
    assert days_left_text(date(2026, 12, 31), date(2026, 11, 20)) == "距截止 2026-12-31 还有 41 天"
    assert days_left_text(date(2026, 11, 20), date(2026, 11, 20)) == "今天（2026-11-20）截止"
    assert days_left_text(date(2026, 11, 10), date(2026, 11, 20)) == "已过截止日期 2026-11-10 10 天"
    assert days_left_text(None, date(2026, 11, 20)) == "未设截止日期"


def test_what_became_of_a_group() -> None:
    from policies.campaign import OUTCOMES, group_outcome

    assert group_outcome("dissolved", merged=True, labels=()) == "merged"
    assert group_outcome("dissolved", merged=False, labels=("idle",)) == "dissolved"
    assert group_outcome("removed", merged=False, labels=()) == "removed"
    assert group_outcome("active", merged=False, labels=("unregistered",)) == "pending"
    assert group_outcome("active", merged=False, labels=(), awaiting=True) == "pending"
    assert group_outcome("active", merged=False, labels=()) == "kept"
    assert set(OUTCOMES) == {"kept", "pending", "merged", "dissolved", "removed"}
