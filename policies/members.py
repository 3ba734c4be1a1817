"""Memberships as dense integer codes, so per-person counting and ordering run on arrays.

An audit touches every membership several times (active groups per person, flagged groups per
person, the duplicate search's member order). At 100k groups that is 3M memberships; as dict
passes over contact-id strings each pass costs about half a second, as array passes a few ms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, count

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.int32]
Counts = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class Memberships:
    """Rooms' members as codes: room i's are `codes[starts[i]:starts[i + 1]]`, distinct within
    a room; `contacts[c]` is the contact id of code c. Rooms are in the caller's order (that of
    the facts they describe), one entry per room whatever its status."""

    contacts: Sequence[str]
    codes: Codes
    starts: npt.NDArray[np.int64]

    @classmethod
    def of(cls, rooms: Iterable[Collection[str]]) -> Memberships:
        """Encode each room's (distinct) member ids; codes in first-seen order."""
        code_of: defaultdict[str, int] = defaultdict(count().__next__)  # a new id gets the next code
        code = code_of.__getitem__
        coded = distinct_lists([list(map(code, members)) for members in rooms])
        return cls.from_lists(list(code_of), coded)

    @classmethod
    def from_lists(cls, contacts: Sequence[str], coded: Sequence[Sequence[int]]) -> Memberships:
        """From each room's list of distinct codes (see `distinct_lists`), as a loader that
        assigned them has them."""
        lengths = np.fromiter(map(len, coded), dtype=np.int64, count=len(coded))
        starts = np.zeros(len(coded) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        codes = np.fromiter(chain.from_iterable(coded), dtype=np.int32, count=int(starts[-1]))
        return cls(contacts, codes, starts)

    def __post_init__(self) -> None:
        if self.starts.ndim != 1 or len(self.starts) == 0 or self.starts[0] != 0:
            raise ValueError("starts must begin at 0")
        if self.starts[-1] != len(self.codes):
            raise ValueError("starts must end at the number of codes")
        if len(self.codes) and (int(self.codes.min()) < 0 or int(self.codes.max()) >= len(self.contacts)):
            raise ValueError("a code outside contacts")

    def __len__(self) -> int:
        return len(self.starts) - 1

    def sizes(self) -> Counts:
        """Members per room."""
        return np.diff(self.starts)

    def gather(self, rooms: npt.NDArray[np.intp]) -> tuple[Codes, Counts]:
        """The codes of `rooms` (positions), room after room, and each room's size."""
        sizes = self.sizes()[rooms]
        if len(rooms) == 0:
            return np.zeros(0, dtype=np.int32), sizes
        before = np.cumsum(sizes) - sizes  # where each room starts in the gathered codes
        at = np.arange(int(before[-1] + sizes[-1]), dtype=np.int64) + np.repeat(
            self.starts[rooms] - before, sizes
        )
        return self.codes[at], sizes

    def counts(self, rooms: npt.NDArray[np.intp]) -> Counts:
        """Per code, how many of `rooms` (positions) the contact sits in."""
        codes, _ = self.gather(rooms)
        return np.bincount(codes, minlength=len(self.contacts)).astype(np.int64, copy=False)

    def room_ids(self, i: int) -> list[str]:
        """Room i's member ids."""
        contact = self.contacts.__getitem__
        return list(map(contact, self.codes[self.starts[i] : self.starts[i + 1]].tolist()))


def distinct_lists(coded: list[list[int]]) -> list[list[int]]:
    """`coded` itself when no room lists a code twice; else a copy with repeats dropped.

    Two open membership rows for one person in one room (concurrent writers could leave them)
    must not count that person twice. Checked on arrays: sorted (room, code) pairs, where a
    repeat shows as two equal neighbours.
    """
    lengths = np.fromiter(map(len, coded), dtype=np.int64, count=len(coded))
    codes = np.fromiter(chain.from_iterable(coded), dtype=np.int64, count=int(lengths.sum()))
    pairs = np.repeat(np.arange(len(coded), dtype=np.int64), lengths) << 32 | codes
    pairs.sort()
    if len(pairs) > 1 and bool((pairs[1:] == pairs[:-1]).any()):
        return [list(dict.fromkeys(c)) for c in coded]
    return coded
