"""Memberships as integer codes: the arrays must say exactly what the member sets say."""

from __future__ import annotations

import random

import numpy as np
import pytest

from policies.members import Memberships, distinct_lists


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


def test_distinct_lists_copies_only_when_needed() -> None:
    clean = [[0, 1, 2], [], [2, 0]]
    assert distinct_lists(clean) is clean
    assert distinct_lists([[0, 1, 0], [1, 1]]) == [[0, 1], [1]]


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
        ([0, 1], [0, 1], "end at the number"),
        ([0, 5], [0, 2], "outside contacts"),
    ],
)
def test_inconsistent_arrays_are_refused(codes: list[int], starts: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Memberships(["a", "b"], np.array(codes, dtype=np.int32), np.array(starts, dtype=np.int64))
