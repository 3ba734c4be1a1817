"""Memberships as integer codes: the arrays must say exactly what the member sets say."""

from __future__ import annotations

import random

import numpy as np
import pytest

from policies.members import Memberships, MembershipsBuilder, RoomMembers


def _rooms(seed: int, n: int = 200) -> list[frozenset[str]]:
    rng = random.Random(seed)
    people = [f"p{i}" for i in range(300)]
    return [frozenset(rng.sample(people, rng.randint(0, 25))) for _ in range(n)]


def test_codes_round_trip_and_counts_match_the_sets() -> None:
    rooms = _rooms(1)
    members = Memberships.of(rooms)
    assert len(members) == len(rooms)
    assert members.sizes().tolist() == [len(r) for r in rooms]
    for i, room in enumerate(rooms):
        assert sorted(members.room_ids(i)) == sorted(room)
    some = np.array([i for i in range(len(rooms)) if i % 3], dtype=np.intp)
    counts = members.counts(some)
    for code, contact in enumerate(members.contacts):
        assert counts[code] == sum(contact in rooms[i] for i in some.tolist())
    codes, sizes = members.gather(some)
    assert sizes.tolist() == [len(rooms[i]) for i in some.tolist()]
    assert [members.contacts[c] for c in codes.tolist()] == [
        m for i in some.tolist() for m in members.room_ids(i)
    ]


def test_a_person_listed_twice_in_a_room_counts_once() -> None:
    members = Memberships.of([("a", "b", "a"), ("b",)])
    assert members.sizes().tolist() == [2, 1]
    counts = members.counts(np.arange(2, dtype=np.intp))
    assert dict(zip(members.contacts, counts.tolist(), strict=True)) == {"a": 1, "b": 2}


def test_distinct_copies_only_when_needed() -> None:
    clean = Memberships.of([("a", "b", "c"), (), ("c", "a")])
    assert clean.distinct() is clean
    builder = MembershipsBuilder()
    for room in (("a", "b", "a"), ("b", "b"), ("c",)):
        builder.add(room)
    fixed = builder.build().distinct()
    assert [fixed.room_ids(i) for i in range(3)] == [["a", "b"], ["b"], ["c"]]
    assert fixed.contacts == ["a", "b", "c"]


def test_take_reorders_and_fills_unknown_rooms() -> None:
    members = Memberships.of([("a", "b"), ("c",), ("a", "c", "d")])
    taken = members.take([2, -1, 0])
    assert [taken.room_ids(i) for i in range(3)] == [["a", "c", "d"], [], ["a", "b"]]
    assert taken.contacts is members.contacts


def test_holds_and_the_room_view() -> None:
    rooms = _rooms(2, n=60)
    members = Memberships.of(rooms)
    owners = [sorted(r)[0] if r and i % 2 else ("p299" if i % 3 else None) for i, r in enumerate(rooms)]
    expected = [o is not None and o in r for o, r in zip(owners, rooms, strict=True)]
    assert members.holds(owners).tolist() == expected
    assert any(expected)
    assert not all(expected)
    for i, room in enumerate(rooms):
        view = members.room(i)
        assert isinstance(view, RoomMembers)
        assert len(view) == len(room)
        assert set(view) == room
        assert view == room
        assert room == view
        assert hash(view) == hash(room)
        assert all(m in view for m in room)
        assert "nobody" not in view
        assert 3 not in view
    with pytest.raises(ValueError, match="1 ids given for 60 rooms"):
        members.holds(["p1"])


def test_empty() -> None:
    members = Memberships.of([])
    assert len(members) == 0
    assert members.counts(np.zeros(0, dtype=np.intp)).tolist() == []
    members = Memberships.of([frozenset(), frozenset()])
    assert members.sizes().tolist() == [0, 0]


@pytest.mark.parametrize(
    ("codes", "starts", "message"),
    [
        ([0, 1], [1, 2], "begin at 0"),
        ([0, 1], [0, 1], "rise to the number"),
        ([0, 1], [0, 2, 1, 2], "rise to the number"),
        ([0, 5], [0, 2], "outside contacts"),
    ],
)
def test_inconsistent_arrays_are_refused(codes: list[int], starts: list[int], message: str) -> None:
    index = {"a": 0, "b": 1}
    with pytest.raises(ValueError, match=message):
        Memberships(["a", "b"], index, np.array(codes, dtype=np.int32), np.array(starts, dtype=np.int64))
