"""Memberships as dense integer codes, so per-person counting and ordering run on arrays.

An audit touches every membership several times (active groups per person, flagged groups per
person, the duplicate search's member order, whether the owner is still in). At 100k groups
that is 3M memberships; as dict or set passes over contact-id strings each pass costs about
half a second, as array passes a few ms. Even holding a Python object per membership costs:
every one is a reference to a string somewhere in memory.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import count, repeat
from typing import cast

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.int32]
Counts = npt.NDArray[np.int64]
Positions = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True, eq=False)
class Memberships:
    """Rooms' members as codes: room i's are `codes[starts[i]:starts[i + 1]]`, distinct within
    a room. `contacts[c]` is the contact id of code c and `index` maps it back. Rooms are in
    the caller's order (that of the facts they describe), one entry per room whatever its
    status."""

    contacts: Sequence[str]
    index: Mapping[str, int]
    codes: Codes
    starts: npt.NDArray[np.int64]

    @classmethod
    def of(cls, rooms: Iterable[Iterable[str]]) -> Memberships:
        """Encode each room's member ids (a repeat within a room is kept once)."""
        builder = MembershipsBuilder()
        for members in rooms:
            builder.add(members)
        return builder.build().distinct()

    def __post_init__(self) -> None:
        if self.starts.ndim != 1 or len(self.starts) == 0 or self.starts[0] != 0:
            raise ValueError("starts must begin at 0")
        if self.starts[-1] != len(self.codes) or bool((np.diff(self.starts) < 0).any()):
            raise ValueError("starts must rise to the number of codes")
        if len(self.codes) and (int(self.codes.min()) < 0 or int(self.codes.max()) >= len(self.contacts)):
            raise ValueError("a code outside contacts")

    def __len__(self) -> int:
        return len(self.starts) - 1

    def sizes(self) -> Counts:
        """Members per room."""
        return np.diff(self.starts)

    def gather(self, rooms: Positions) -> tuple[Codes, Counts]:
        """The codes of `rooms` (positions), room after room, and each room's size."""
        sizes = self.sizes()[rooms]
        total = int(sizes.sum())
        before = np.cumsum(sizes) - sizes  # where each room starts in the gathered codes
        at = np.arange(total, dtype=np.int64) + np.repeat(self.starts[rooms] - before, sizes)
        return self.codes[at], sizes

    def take(self, rooms: Sequence[int]) -> Memberships:
        """These rooms (positions; -1 for a room with no members), in this order."""
        where = np.fromiter(rooms, dtype=np.intp, count=len(rooms))
        known = where >= 0
        sizes = np.zeros(len(where), dtype=np.int64)
        sizes[known] = self.sizes()[where[known]]
        codes, _ = self.gather(where[known])
        starts = np.zeros(len(where) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        return Memberships(self.contacts, self.index, codes, starts)

    def _room_of_each(self) -> Positions:
        """The room (position) of every code in `codes`."""
        return np.repeat(np.arange(len(self), dtype=np.intp), self.sizes())

    def distinct(self) -> Memberships:
        """Self when no room lists a code twice; else a copy with the repeats dropped.

        Two open membership rows for one person in one room (concurrent writers could leave
        them) must not count that person twice. A repeat shows as two equal neighbours among
        the sorted (room, code) pairs.
        """
        pairs = self._room_of_each().astype(np.int64) << 32 | self.codes
        pairs.sort()
        if len(pairs) < 2 or not bool((pairs[1:] == pairs[:-1]).any()):
            return self
        builder = MembershipsBuilder(self.contacts)
        for i in range(len(self)):
            builder.add(dict.fromkeys(self.room_ids(i)))
        return builder.build()

    def counts(self, rooms: Positions) -> Counts:
        """Per code, how many of `rooms` (positions) the contact sits in."""
        codes, _ = self.gather(rooms)
        return np.bincount(codes, minlength=len(self.contacts)).astype(np.int64, copy=False)

    def holds(self, ids: Sequence[str | None]) -> npt.NDArray[np.bool_]:
        """Per room i, whether `ids[i]` is one of its members (None never is)."""
        if len(ids) != len(self):
            raise ValueError(f"{len(ids)} ids given for {len(self)} rooms")
        # None is never a key of the index, so it maps to -1 like any unknown id.
        code_or = cast("Callable[[str | None, int], int]", self.index.get)
        wanted = np.fromiter(map(code_or, ids, repeat(-1)), dtype=np.int64, count=len(ids))
        hit = self.codes == np.repeat(wanted, self.sizes())
        return np.bincount(self._room_of_each()[hit], minlength=len(self)) > 0

    def room_ids(self, i: int) -> list[str]:
        """Room i's member ids."""
        contact = self.contacts.__getitem__
        return list(map(contact, self.codes[self.starts[i] : self.starts[i + 1]].tolist()))

    def room(self, i: int) -> RoomMembers:
        return RoomMembers(self, i)


class MembershipsBuilder:
    """Rooms added one by one, then built once; a new contact id gets the next code. Codes go
    straight into a C array: no Python object per membership."""

    __slots__ = ("_code", "_code_of", "_codes", "_ends")

    def __init__(self, contacts: Iterable[str] = ()) -> None:
        self._code_of: defaultdict[str, int] = defaultdict(count().__next__)
        self._code = self._code_of.__getitem__
        for contact in contacts:
            self._code(contact)
        self._codes = array("i")
        self._ends = [0]

    def add(self, members: Iterable[str]) -> int:
        """Append one room's members (distinct, or `distinct()` the result); its position."""
        self._codes.extend(map(self._code, members))
        self._ends.append(len(self._codes))
        return len(self._ends) - 2

    def build(self) -> Memberships:
        index = self._code_of
        index.default_factory = None  # from now on a plain mapping: an unknown id is not added
        codes = np.frombuffer(self._codes, dtype=np.int32) if len(self._codes) else np.zeros(0, np.int32)
        return Memberships(list(index), index, codes, np.array(self._ends, dtype=np.int64))


class RoomMembers(Collection[str]):
    """One room's member ids as a read-only collection over `Memberships`: what the audit puts
    in `RoomFacts.member_ids`, so loading makes one small object per room, not one reference
    per member. Equal to any set or collection with the same ids."""

    __slots__ = ("_of", "_room")

    def __init__(self, of: Memberships, room: int) -> None:
        self._of = of
        self._room = room

    def _codes(self) -> Codes:
        starts = self._of.starts
        return self._of.codes[starts[self._room] : starts[self._room + 1]]

    def __len__(self) -> int:
        return len(self._codes())

    def __iter__(self) -> Iterator[str]:
        return iter(self._of.room_ids(self._room))

    def __contains__(self, item: object) -> bool:
        code = self._of.index.get(item) if isinstance(item, str) else None
        return code is not None and bool((self._codes() == code).any())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Collection):
            return NotImplemented
        return frozenset(self) == frozenset(other)

    def __hash__(self) -> int:
        return hash(frozenset(self))

    def __repr__(self) -> str:
        return f"RoomMembers({sorted(self)!r})"
