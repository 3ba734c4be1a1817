"""Near-duplicate audiences (受众雷同) by membership Jaccard, without comparing all pairs.

Prefix filtering (AllPairs, Bayardo et al. 2007): order members by one global order, rare ones
first; two sets with Jaccard >= t must share a member within the first |A| - ceil(t*|A|) + 1 of
each. So we index only those prefixes, collect candidates that also pass the size filter, and
verify each candidate exactly. Unlike MinHash LSH this is exact, so it agrees with the all-pairs
reference. With l - 1 more prefix members per room they must share l of them (the l-prefix
scheme, Wang et al. 2012), which drops most chance candidates before the costly exact check.

Members are dense integer codes (policies/members.py), so the prefixes are array slices and
the candidate search is one sorted join of probing prefixes against indexing prefixes, in
numpy; only the candidates that pass both filters are checked exactly, in Python.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations, pairwise, repeat

import numpy as np
import numpy.typing as npt

from policies.members import Memberships

_SHARED = 3  # l: prefix members a candidate must share (fewer for rooms too small for that)
_JOIN_SLICE = 1 << 21  # prefix-join entries expanded at once (bounds the search's memory)


@dataclass(frozen=True, slots=True, order=True)
class DuplicatePair:
    """Two rooms whose members overlap enough; a < b by room id."""

    a: str
    b: str
    shared: int
    union: int

    @property
    def jaccard(self) -> float:
        return self.shared / self.union


def _threshold(t: float) -> Fraction:
    # Exact comparison avoids 0.8 * 5 = 4.000000000000001 style misses at the boundary.
    return Fraction(str(t)).limit_denominator(1_000_000)


def _eligible(rooms: Mapping[str, frozenset[str]], min_members: int) -> dict[str, frozenset[str]]:
    return {rid: m for rid, m in rooms.items() if len(m) >= min_members}


def _is_pair(shared: int, union: int, t: Fraction) -> bool:
    return union > 0 and shared * t.denominator >= t.numerator * union


def _prefix_lengths(size: int, t: Fraction) -> tuple[int, int, int, int]:
    """(min_size, shared, probe, indexed) for a room of `size` members.

    Rooms are processed smallest first. Any pair with this room and an earlier partner shares
    >= min_size = ceil(t*size) members (and the partner has at least that many), so its first
    `shared` = min(l, min_size) shared members lie within the first size - min_size + shared of
    this room: the probing prefix, and candidates must match `shared` members in the prefixes.
    A later (larger) partner shares >= ceil(2t/(1+t)*size) members, so the indexing prefix is
    that much shorter (PPJoin); it is l longer rather than 1, to hold the first l shared ones.
    """
    num, den = t.numerator, t.denominator
    min_size = -(-num * size // den)
    shared = min(_SHARED, max(min_size, 1))  # an empty room has no prefix at all
    probe = size - min_size + shared
    indexed = size - (-(-2 * num * size // (num + den))) + _SHARED
    return min_size, shared, probe, indexed


def probe_members(
    members: Collection[str],
    *,
    threshold: float = 0.8,
    min_members: int = 3,
    rarity: Mapping[str, int] | None = None,
) -> list[str]:
    """Members of one room of which every duplicate partner of it holds at least one.

    A partner with Jaccard >= t shares at least ceil(t*|A|) of the room's |A| members, so it
    holds one of any |A| - ceil(t*|A|) + 1 of them: the rarest ones (by `rarity`, smaller is
    rarer, absent counts as rarest; ties by id), so that looking rooms up by these members finds
    few rooms. Which ones are taken never changes the partners found, only how many others come
    along. Empty for a room too small to be in any pair. Needs a positive threshold: at 0 any
    two rooms pair up, whatever their members.
    """
    t = _threshold(threshold)
    if t <= 0:
        raise ValueError("duplicate partners can be found by members only for a threshold above 0")
    distinct = set(members)
    if len(distinct) < min_members or not distinct:
        return []
    min_shared = -(-t.numerator * len(distinct) // t.denominator)
    ordered = sorted(distinct, key=lambda m: (0 if rarity is None else rarity.get(m, 0), m))
    return ordered[: len(distinct) - min_shared + 1]


def find_duplicates(
    rooms: Mapping[str, Collection[str]],
    *,
    threshold: float = 0.8,
    min_members: int = 3,
    rarity: Mapping[str, int] | None = None,
) -> list[DuplicatePair]:
    """All pairs with Jaccard >= threshold among rooms of at least `min_members`, sorted.

    Each room's members must be distinct. `rarity` (smaller is rarer: e.g. the groups each
    member sits in, already counted by the caller) puts rare members first in the order; a
    member it leaves out counts as rarest. Without it, members are counted over the eligible
    rooms. Any order gives the same pairs; a good one only makes it faster.
    """
    ids = list(rooms)
    members = Memberships.of(rooms.values())
    order = None
    if rarity is not None:
        known = members.contacts
        order = np.fromiter(map(rarity.get, known, repeat(0)), dtype=np.int64, count=len(known))
    everyone = np.arange(len(ids), dtype=np.intp)
    return coded_duplicates(
        ids, members, everyone, threshold=threshold, min_members=min_members, rarity=order
    )


def coded_duplicates(
    ids: Sequence[str],
    members: Memberships,
    rooms: npt.NDArray[np.intp],
    *,
    threshold: float = 0.8,
    min_members: int = 3,
    rarity: npt.NDArray[np.int64] | None = None,
) -> list[DuplicatePair]:
    """`find_duplicates` over the rooms at positions `rooms` of `members` (named by `ids`),
    with `rarity` per code when given (e.g. `members.counts(...)`)."""
    t = _threshold(threshold)
    rooms = rooms[members.sizes()[rooms] >= min_members]
    if t <= 0:
        sets = {ids[i]: frozenset(members.room_ids(i)) for i in rooms.tolist()}
        return exact_duplicates(sets, threshold=threshold, min_members=min_members)
    codes, sizes = members.gather(rooms)
    if rarity is None:
        rarity = np.bincount(codes, minlength=len(members.contacts)).astype(np.int64, copy=False)
    # The global order: rarest first, ties by code. Each room's members as their ranks in it,
    # sorted within the room (one sort of (room, rank) keys); equal sets of ranks are equal
    # sets of members, so the exact check can compare ranks too.
    # (At 100k groups each array over all members is 3M long: built in place, int32 where
    # it fits, to keep the audit's peak memory down.)
    rank = np.empty(len(members.contacts), dtype=np.int32)
    rank[np.argsort(rarity, kind="stable")] = np.arange(len(members.contacts), dtype=np.int32)
    keys = np.repeat(np.arange(len(rooms), dtype=np.int64), sizes)
    keys <<= 32
    keys |= rank[codes]
    del codes, rank
    keys.sort()
    ranked = keys.astype(np.int32)  # the low 32 bits: the rank
    del keys
    n = len(sizes)
    starts = np.cumsum(sizes) - sizes
    # Per room size: the prefix lengths and filters of _prefix_lengths, as lookup tables.
    table = np.zeros((4, int(sizes.max(initial=0)) + 1), dtype=np.int64)
    for size in set(sizes.tolist()):
        min_size, shared_min, probe, indexed = _prefix_lengths(size, t)
        table[:, size] = (min_size, shared_min, min(probe, size), min(indexed, size))
    min_size_of, shared_min_of, probe_of, indexed_of = (table[k][sizes] for k in range(4))
    # Smallest first (stable): a room is compared with the rooms before it in this order, its
    # probing prefix against their (shorter) indexing prefixes.
    turn = np.empty(n, dtype=np.int64)
    turn[np.argsort(sizes, kind="stable")] = np.arange(n, dtype=np.int64)
    position = np.arange(len(ranked), dtype=np.int32)
    position -= np.repeat(starts.astype(np.int32), sizes)  # within the room
    room_of = np.repeat(np.arange(n, dtype=np.int32), sizes)
    probing = position < np.repeat(probe_of.astype(np.int32), sizes)
    indexing = position < np.repeat(indexed_of.astype(np.int32), sizes)
    del position
    probe_token, probe_room = ranked[probing], room_of[probing]
    index_token, index_room = ranked[indexing], room_of[indexing]
    del probing, indexing, room_of
    # Join the prefixes on their members: for each probing entry, the indexing entries with
    # the same member (a range once the index is sorted by member).
    by_token = np.argsort(index_token, kind="stable")
    index_token, index_room = index_token[by_token], index_room[by_token]
    lo = np.searchsorted(index_token, probe_token, side="left")
    width = np.searchsorted(index_token, probe_token, side="right") - lo
    del index_token, probe_token
    # In slices of whole probing rooms (a room's entries are contiguous), so memory stays
    # bounded however many rooms share members; each pair's entries stay in one slice.
    cuts: list[int] = [len(probe_room)]
    if len(probe_room):
        firsts = np.flatnonzero(np.r_[True, probe_room[1:] != probe_room[:-1]])  # each room's 1st
        room_volume = np.add.reduceat(width, firsts)
        band = (np.cumsum(room_volume) - room_volume) // _JOIN_SLICE  # by the volume before it
        cuts = [*firsts[np.flatnonzero(np.r_[True, band[1:] != band[:-1]])].tolist(), len(probe_room)]
    candidates_x: list[npt.NDArray[np.int64]] = []
    candidates_y: list[npt.NDArray[np.int64]] = []
    for begin, end in pairwise(cuts):
        w = width[begin:end]
        y = np.repeat(probe_room[begin:end], w)
        x = index_room[np.repeat(lo[begin:end] - np.cumsum(w) + w, w) + np.arange(int(w.sum()))]
        earlier = turn[x] < turn[y]
        x, y = x[earlier], y[earlier]
        # Pairs sharing at least the probing room's `shared_min` prefix members, big enough.
        pair, shared = np.unique(x.astype(np.int64) * n + y, return_counts=True)
        x, y = pair // n, pair % n
        keep = (shared >= shared_min_of[y]) & (sizes[x] >= min_size_of[y])
        candidates_x.append(x[keep])
        candidates_y.append(y[keep])
    del lo, width, index_room, probe_room
    x = np.concatenate(candidates_x) if candidates_x else np.zeros(0, dtype=np.int64)
    y = np.concatenate(candidates_y) if candidates_y else np.zeros(0, dtype=np.int64)
    by_probe = np.argsort(y * n + x)  # each probing room's candidates together: one set each
    found: list[DuplicatePair] = []
    first: list[int] = starts.tolist()
    size_of: list[int] = sizes.tolist()
    room_at: list[int] = rooms.tolist()
    current, mine = -1, set[int]()
    for i, j in zip(y[by_probe].tolist(), x[by_probe].tolist(), strict=True):
        if i != current:
            current, mine = i, set(ranked[first[i] : first[i] + size_of[i]].tolist())
        common = len(mine.intersection(ranked[first[j] : first[j] + size_of[j]].tolist()))
        union = size_of[i] + size_of[j] - common
        if _is_pair(common, union, t):
            a, b = sorted((ids[room_at[i]], ids[room_at[j]]))
            found.append(DuplicatePair(a, b, common, union))
    return sorted(found)


def exact_duplicates(
    rooms: Mapping[str, frozenset[str]], *, threshold: float = 0.8, min_members: int = 3
) -> list[DuplicatePair]:
    """Reference implementation: every pair compared. Quadratic; for tests on samples."""
    t = _threshold(threshold)
    sets = _eligible(rooms, min_members)
    found = []
    for a, b in combinations(sorted(sets), 2):
        shared = len(sets[a] & sets[b])
        union = len(sets[a]) + len(sets[b]) - shared
        if _is_pair(shared, union, t):
            found.append(DuplicatePair(a, b, shared, union))
    return sorted(found)
