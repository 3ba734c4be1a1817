from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from policy_factories import days, local, room

from policies.engine import burden, evaluate
from policies.members import Memberships
from policies.model import RoomFacts
from policies.names import infer_from_name
from policies.rules import Rules

NOW = local(2026, 11, 15, 9)
TODAY = date(2026, 11, 15)


def codes(facts: RoomFacts, rules: Rules, now=NOW) -> dict[str, str]:  # type: ignore[no-untyped-def]
    [v] = evaluate([facts], rules, now)
    return {label.code: label.reason for label in v.labels}


@pytest.mark.parametrize("kind", ["temporary", "phase"])
def test_expiry_boundary_is_the_day_after_end(rules: Rules, kind: str) -> None:
    on_end = room(kind=kind, end_date=TODAY, topic="会议群")
    assert f"{kind}_expired" not in codes(on_end, rules)
    assert "ending_soon" in codes(on_end, rules)
    day_after = room(kind=kind, end_date=TODAY - timedelta(days=1))
    reason = codes(day_after, rules)[f"{kind}_expired"]
    assert "已过 1 天" in reason
    assert "2026-11-14" in reason


def test_expiry_uses_shanghai_date_not_utc(rules: Rules) -> None:
    # 2026-11-15 00:30 in Shanghai is still 11-14 in UTC.
    now = local(2026, 11, 15, 0, 30)
    assert "temporary_expired" in codes(room(kind="temporary", end_date=date(2026, 11, 14)), rules, now)


def test_expired_reason_text(rules: Rules) -> None:
    r = codes(room(kind="temporary", end_date=date(2026, 10, 18)), rules)["temporary_expired"]
    assert r == "临时群，登记截止日期 2026-10-18，已过 28 天，建议解散"


def test_ending_soon_window(rules: Rules) -> None:
    assert "ending_soon" in codes(room(kind="phase", end_date=TODAY + timedelta(days=3)), rules)
    assert "ending_soon" not in codes(room(kind="phase", end_date=TODAY + timedelta(days=4)), rules)
    r = codes(room(kind="temporary", end_date=date(2026, 11, 17)), rules)["ending_soon"]
    assert r == "将于 2026-11-17 到期（还有 2 天），请及时解散或申请延期"


@pytest.mark.parametrize("approved", [True, False])
def test_standing_never_expires(rules: Rules, approved: bool) -> None:
    f = room(kind="standing", approved=approved, end_date=date(2020, 1, 1), topic="2020年秋季征兵")
    got = codes(f, rules)
    assert not {"temporary_expired", "phase_expired", "suspected_phase_expired", "ending_soon"} & set(got)


def test_unregistered_and_suspected_coexist(rules: Rules) -> None:
    f = room(kind=None, topic="2024年秋季征兵工作群", enrolled_at=NOW - timedelta(days=12))
    got = codes(f, rules)
    assert got["unregistered"] == "入群已 12 天仍未登记，请群主回复“登记 …”"
    assert "2024-12-31" in got["suspected_phase_expired"]
    assert "“2024年”" in got["suspected_phase_expired"]


def test_unregistered_boundary(rules: Rules) -> None:
    assert "unregistered" not in codes(room(kind=None, enrolled_at=NOW - timedelta(days=6, hours=23)), rules)
    assert "unregistered" in codes(room(kind=None, enrolled_at=NOW - timedelta(days=7)), rules)


def test_suspected_not_before_inferred_end(rules: Rules) -> None:
    f = room(kind=None, topic="2026年冬季森林防火", enrolled_at=NOW - timedelta(days=1))
    [v] = evaluate([f], rules, NOW)
    assert v.inference is not None
    assert v.inference.end_date == date(2027, 2, 28)
    assert not v.labels


def test_idle_counts_from_enrolment(rules: Rules) -> None:
    old_silence = room(
        last_activity=local(2025, 1, 1),
        enrolled_at=NOW - timedelta(days=10),
        kind="temporary",
        end_date=date(2027, 1, 1),
    )
    assert "idle" not in codes(old_silence, rules)
    f = room(
        kind="temporary",
        end_date=date(2027, 1, 1),
        enrolled_at=NOW - timedelta(days=100),
        last_activity=NOW - timedelta(days=45),
    )
    assert codes(f, rules)["idle"] == "已 45 天无人发言（最后发言 2026-10-01），建议解散"
    never = room(
        kind="temporary", end_date=date(2027, 1, 1), enrolled_at=NOW - timedelta(days=30), last_activity=None
    )
    assert "30 天" in codes(never, rules)["idle"]


def test_idle_standing_uses_longer_limit(rules: Rules) -> None:
    f = room(kind="standing", enrolled_at=NOW - timedelta(days=200), last_activity=NOW - timedelta(days=89))
    assert "idle" not in codes(f, rules)
    f = room(kind="standing", enrolled_at=NOW - timedelta(days=200), last_activity=NOW - timedelta(days=90))
    assert "idle" in codes(f, rules)


def test_duplicate_labels_quieter_twin(rules: Rules) -> None:
    members = frozenset(f"m{i}" for i in range(10))
    busy = room("a", topic="裴城镇党政办", member_ids=members, daily=days(TODAY - timedelta(days=5), 5, 10))
    quiet = room("b", topic="裴城镇干部群", member_ids=(members - {"m9"}) | {"x"})
    other = room("c", topic="无关群", member_ids=frozenset({"p", "q", "r"}))
    gone = room("d", topic="旧群", member_ids=members, status="dissolved")
    vs = {v.room_id: v for v in evaluate([busy, quiet, other, gone], rules, NOW)}
    dup = [lb for lb in vs["b"].labels if lb.code == "duplicate"]
    assert dup
    assert dup[0].action == "merge"
    assert dup[0].reason == "与「裴城镇党政办」成员重合 82%，建议合并"
    assert not any(lb.code == "duplicate" for lb in vs["a"].labels)
    assert vs["d"].labels == ()


def test_duplicate_ignores_small_rooms(rules: Rules) -> None:
    pair = [room("a", member_ids=frozenset({"x", "y"})), room("b", member_ids=frozenset({"x", "y"}))]
    assert not any(lb.code == "duplicate" for v in evaluate(pair, rules, NOW) for lb in v.labels)


def test_ownerless(rules: Rules) -> None:
    assert codes(room(owner_id=None), rules)["ownerless"] == "群主未知，请督导确认负责人"
    assert codes(room(owner_id="gone"), rules)["ownerless"] == "群主已不在群内，请督导确认负责人"
    assert "ownerless" not in codes(room(), rules)


def test_after_hours(rules: Rules) -> None:
    f = room(daily=days(TODAY - timedelta(days=11), 12, 10, after_hours=4))
    assert (
        codes(f, rules)["after_hours"] == "近 30 天 40% 的消息在工作时间以外（共 120 条），请注意减轻基层负担"
    )
    few = room(daily=days(TODAY - timedelta(days=1), 2, 1, after_hours=1))
    assert "after_hours" not in codes(few, rules)
    exactly = room(daily=days(TODAY - timedelta(days=9), 10, 10, after_hours=3))
    assert "after_hours" not in codes(exactly, rules)  # 30% is not "more than 30%"
    old = room(daily=days(TODAY - timedelta(days=60), 10, 10, after_hours=10))
    assert "after_hours" not in codes(old, rules)


def test_mention_all_heavy(rules: Rules) -> None:
    f = room(daily=days(TODAY - timedelta(days=11), 12, 10, mention_all=1))
    assert "@所有人 12 次" in codes(f, rules)["mention_all_heavy"]
    light = room(daily=days(TODAY - timedelta(days=9), 10, 10, mention_all=0))
    assert "mention_all_heavy" not in codes(light, rules)


def test_inactive_rooms_get_empty_verdicts_in_order(rules: Rules) -> None:
    facts = [room("x", status="removed", owner_id=None), room("y"), room("z", status="dissolved", kind=None)]
    vs = evaluate(facts, rules, NOW)
    assert [v.room_id for v in vs] == ["x", "y", "z"]
    assert vs[0].labels == ()
    assert vs[2].labels == ()


def test_burden(rules: Rules) -> None:
    facts = [
        room("a", kind="temporary", end_date=date(2026, 1, 1), member_ids=frozenset({"zhang", "li"})),
        room("b", member_ids=frozenset({"zhang", "wang"})),
        room("c", status="dissolved", member_ids=frozenset({"li", "wang", "zhao"})),
    ]
    got = burden(facts, evaluate(facts, rules, NOW))
    assert [(b.contact_id, b.active_groups, b.flagged_groups) for b in got] == [
        ("zhang", 2, 1),
        ("li", 1, 1),
        ("wang", 1, 0),
    ]


def test_burden_order_and_counts_on_a_sample(rules: Rules) -> None:
    """Most groups first, then by id; the same whether or not the memberships are passed in."""
    rng = random.Random(7)
    people = [f"p{i:02d}" for i in range(40)]
    facts = [
        room(
            f"r{i}",
            kind=rng.choice(["standing", "temporary"]),
            end_date=date(2026, 1, 1),
            status=rng.choice(["active", "active", "active", "dissolved"]),
            member_ids=frozenset(rng.sample(people, rng.randint(1, 12))),
        )
        for i in range(60)
    ]
    members = Memberships.of(f.member_ids for f in facts)
    verdicts = evaluate(facts, rules, NOW, members=members)
    assert verdicts == evaluate(facts, rules, NOW)
    got = burden(facts, verdicts, members=members)
    assert got == burden(facts, verdicts)
    active = [f.member_ids for f in facts if f.status == "active"]
    flagged = [
        f.member_ids
        for f, v in zip(facts, verdicts, strict=True)
        if f.status == "active" and any(lb.action in ("dissolve", "merge") for lb in v.labels)
    ]
    ids = sorted(set().union(*active), key=lambda p: (-sum(p in m for m in active), p))
    assert [(b.contact_id, b.active_groups, b.flagged_groups) for b in got] == [
        (p, sum(p in m for m in active), sum(p in m for m in flagged)) for p in ids
    ]
    assert len({b.active_groups for b in got}) > 3  # several count buckets, with ties inside
    assert any(b.flagged_groups for b in got)


def test_labels_carry_rule_and_evidence(rules: Rules) -> None:
    [v] = evaluate([room(kind="phase", end_date=date(2026, 11, 1))], rules, NOW)
    [label] = v.labels
    assert label.rule_id == "expiry.phase"
    assert label.evidence["end_date"] == "2026-11-01"
    assert label.evidence["days_overdue"] == 14


def test_naive_now_refused(rules: Rules) -> None:
    with pytest.raises(ValueError, match="timezone"):
        evaluate([room()], rules, NOW.replace(tzinfo=None))


def test_retained_group_keeps_only_conduct_labels(rules: Rules) -> None:
    """A supervisor's 保留 approval answers dissolve/merge/register labels; conduct labels stay."""
    now = local(2026, 11, 28)
    expired_and_noisy = room(
        kind="temporary",
        end_date=date(2026, 10, 31),
        owner_id="nobody",
        daily=days(date(2026, 11, 1), 20, 10, after_hours=8),
        _now=now,
    )
    before = {lb.code for lb in evaluate([expired_and_noisy], rules, now)[0].labels}
    assert {"temporary_expired", "ownerless", "after_hours"} <= before
    kept = RoomFacts(**{**{f: getattr(expired_and_noisy, f) for f in RoomFacts.__slots__}, "retained": True})
    after = {lb.code for lb in evaluate([kept], rules, now)[0].labels}
    assert "temporary_expired" not in after
    assert {"ownerless", "after_hours"} <= after


def test_memberships_of_other_rooms_are_refused(rules: Rules) -> None:
    facts = [room("a"), room("b")]
    with pytest.raises(ValueError, match="memberships of 1 rooms given for 2 rooms"):
        evaluate(facts, rules, NOW, members=Memberships.of([facts[0].member_ids]))
    with pytest.raises(ValueError, match="memberships of 1 rooms"):
        burden(facts, evaluate(facts, rules, NOW), members=Memberships.of([facts[0].member_ids]))


def test_one_name_parsed_once_still_resolves_per_reference_day(rules: Rules) -> None:
    """A name is parsed once per evaluation; its window end still counts from each group's own
    creation day, exactly as inferring each group alone would."""
    name = "迎接省委巡视整改临时群"
    facts = [
        room(rid, topic=name, kind=None, created_on=day)
        for rid, day in (("early", date(2026, 5, 1)), ("late", date(2026, 8, 1)), ("new", date(2026, 11, 1)))
    ]
    got = [v.inference for v in evaluate(facts, rules, NOW)]
    alone = [infer_from_name(name, today=TODAY, rules=rules, since=f.created_on) for f in facts]
    assert got == alone
    assert len({inf.end_date for inf in alone}) == 3
    assert {inf.end_source for inf in alone} == {"window"}


def test_burden_refuses_verdicts_of_other_rooms(rules: Rules) -> None:
    facts = [room("a"), room("b")]
    verdicts = evaluate(facts, rules, NOW)
    with pytest.raises(ValueError, match="in the order of the facts"):
        burden(facts, verdicts[::-1])
    with pytest.raises(ValueError, match="one verdict per room"):
        burden(facts, verdicts[:1])
