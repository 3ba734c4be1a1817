from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import duplicates
from policies.duplicates import DuplicatePair, coded_duplicates, exact_duplicates, find_duplicates
from policies.members import Memberships


def sample(seed: int, n: int = 2000) -> dict[str, frozenset[str]]:
    rng = random.Random(seed)
    people = [f"p{i}" for i in range(3000)]
    hot = [f"boss{i}" for i in range(5)]  # officials who sit in a large share of groups
    rooms: dict[str, frozenset[str]] = {}
    for i in range(n):
        size = rng.randint(2, 40)
        members = set(rng.sample(people, size)) | set(rng.sample(hot, rng.randint(0, 3)))
        rooms[f"r{i}"] = frozenset(members)
        if rng.random() < 0.1:  # plant a near-duplicate: drop/add a member or two
            twin = set(members)
            for _ in range(rng.randint(0, 2)):
                if twin:
                    twin.discard(rng.choice(sorted(twin)))
            twin |= {f"q{i}_{k}" for k in range(rng.randint(0, 2))}
            rooms[f"t{i}"] = frozenset(twin)
    return rooms


def test_index_equals_all_pairs_on_sample() -> None:
    rooms = sample(1)
    exact = exact_duplicates(rooms, threshold=0.8, min_members=3)
    assert len(exact) > 100  # the planted twins are really there
    assert find_duplicates(rooms, threshold=0.8, min_members=3) == exact


def test_any_rarity_order_gives_the_same_pairs() -> None:
    """The caller's counts (all groups, not just eligible ones), or even a perverse order, only
    change the speed: prefix filtering is exact under any one global order."""
    rooms = sample(2, n=800)
    exact = exact_duplicates(rooms, threshold=0.8, min_members=3)
    assert len(exact) > 30
    everyone = sorted(set().union(*rooms.values()))
    shared: dict[str, int] = {}
    for members in rooms.values():  # counted over every room, small ones included
        for m in members:
            shared[m] = shared.get(m, 0) + 1
    commonest_first = {m: -n for m, n in shared.items()}
    arbitrary = {m: random.Random(m).randrange(5) for m in everyone}  # many ties
    for rarity in (shared, commonest_first, arbitrary):
        assert find_duplicates(rooms, threshold=0.8, min_members=3, rarity=rarity) == exact


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text("abcdef", min_size=1, max_size=3),
        st.frozensets(st.sampled_from("ABCDEFGHIJ"), max_size=10),
        max_size=25,
    ),
    st.sampled_from([0.5, 0.6, 0.75, 0.8, 0.9, 1.0]),
    st.integers(2, 5),
)
def test_index_equals_all_pairs_generated(
    rooms: dict[str, frozenset[str]], threshold: float, min_members: int
) -> None:
    assert find_duplicates(rooms, threshold=threshold, min_members=min_members) == exact_duplicates(
        rooms, threshold=threshold, min_members=min_members
    )


def test_boundary_jaccard_is_included() -> None:
    a = frozenset("ABCDE")
    b = frozenset("ABCD")  # 4/5 = 0.8 exactly
    assert [(p.a, p.b) for p in find_duplicates({"a": a, "b": b})] == [("a", "b")]


@pytest.fixture(scope="module")
def planted() -> tuple[dict[str, frozenset[str]], dict[float, list[DuplicatePair]]]:
    rooms = sample(3, n=400)
    return rooms, {t: exact_duplicates(rooms, threshold=t, min_members=3) for t in (0.5, 0.8, 1.0)}


@pytest.mark.parametrize("join_slice", [1, 50, 1 << 20])
@pytest.mark.parametrize("shared", [1, 2, 3, 5])
def test_exact_for_any_prefix_extension_and_join_slice(
    monkeypatch: pytest.MonkeyPatch,
    planted: tuple[dict[str, frozenset[str]], dict[float, list[DuplicatePair]]],
    shared: int,
    join_slice: int,
) -> None:
    """Candidates must share `shared` prefix members, and the prefix join runs in slices of
    about `join_slice` entries; no setting may lose a pair."""
    monkeypatch.setattr(duplicates, "_SHARED", shared)
    monkeypatch.setattr(duplicates, "_JOIN_SLICE", join_slice)
    rooms, exact = planted
    assert len(exact[0.8]) > 10
    for threshold, pairs in exact.items():
        assert find_duplicates(rooms, threshold=threshold, min_members=3) == pairs


def test_coded_search_over_a_subset_of_rooms() -> None:
    """The engine's entry: only the given positions take part, named by `ids`."""
    rooms = sample(4, n=300)
    ids = list(rooms)
    members = Memberships.of(rooms.values())
    some = np.array([i for i in range(len(ids)) if i % 5 != 2], dtype=np.intp)
    subset = {ids[i]: rooms[ids[i]] for i in some.tolist()}
    exact = exact_duplicates(subset, threshold=0.8, min_members=3)
    assert exact
    assert coded_duplicates(ids, members, some, threshold=0.8, min_members=3) == exact
    counts = members.counts(np.arange(len(ids), dtype=np.intp))
    assert coded_duplicates(ids, members, some, threshold=0.8, min_members=3, rarity=counts) == exact


def test_tiny_and_empty_rooms() -> None:
    """Rooms too small to share `l` prefix members (or any) still pair exactly."""
    rooms = {
        "e1": frozenset[str](),
        "e2": frozenset[str](),
        "a": frozenset("A"),
        "a2": frozenset("A"),
        "ab": frozenset("AB"),
        "ab2": frozenset("AB"),
        "abc": frozenset("ABC"),
    }
    for threshold in (0.3, 0.5, 0.8, 1.0):
        for min_members in (0, 1, 2):
            exact = exact_duplicates(rooms, threshold=threshold, min_members=min_members)
            assert find_duplicates(rooms, threshold=threshold, min_members=min_members) == exact


def test_many_identical_rooms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every room shares every member: all pairs, also when the join is cut into slices."""
    same = frozenset(f"p{i}" for i in range(12))
    rooms = {f"r{i:03d}": same for i in range(80)} | {"other": frozenset(f"q{i}" for i in range(12))}
    expected = exact_duplicates(rooms)
    assert len(expected) == 80 * 79 // 2
    for join_slice in (1, 100, 1 << 20):
        monkeypatch.setattr(duplicates, "_JOIN_SLICE", join_slice)
        assert find_duplicates(rooms) == expected


@pytest.mark.parametrize("threshold", [0.5, 0.8, 1.0])
def test_every_partner_holds_a_probe_member_whatever_the_rarity(threshold: float) -> None:
    rooms = sample(11, 600)
    rng = random.Random(5)
    everyone = sorted({m for ms in rooms.values() for m in ms})
    # Any rarity, even a wrong one, must give the same partners: here a random one.
    rarity = {m: rng.randrange(50) for m in everyone if rng.random() < 0.9}
    pairs = exact_duplicates(rooms, threshold=threshold, min_members=3)
    assert pairs
    partners: dict[str, set[str]] = {}
    for p in pairs:
        partners.setdefault(p.a, set()).add(p.b)
        partners.setdefault(p.b, set()).add(p.a)
    for room_id, members in rooms.items():
        probes = duplicates.probe_members(members, threshold=threshold, min_members=3, rarity=rarity)
        assert set(probes) <= members
        for other in partners.get(room_id, ()):
            assert set(probes) & rooms[other], (room_id, other)
        if len(members) < 3:
            assert probes == []


def test_probe_members_takes_the_rarest_and_needs_a_positive_threshold() -> None:
    members = [f"p{i}" for i in range(10)]
    rarity = {f"p{i}": 100 - i for i in range(10)}  # p9 rarest
    # 0.8 * 10 = 8 shared at least: any 3 of the 10 contain one of them.
    assert duplicates.probe_members(members, threshold=0.8, rarity=rarity) == ["p9", "p8", "p7"]
    assert duplicates.probe_members(members, threshold=1.0, rarity=rarity) == ["p9"]
    with pytest.raises(ValueError, match="threshold"):
        duplicates.probe_members(members, threshold=0.0)
