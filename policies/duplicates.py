"""Near-duplicate audiences (受众雷同) by membership Jaccard, without comparing all pairs.

Prefix filtering (AllPairs, Bayardo et al. 2007): order members by one global order, rare ones
first; two sets with Jaccard >= t must share a member within the first |A| - ceil(t*|A|) + 1 of
each. So we index only those prefixes, collect candidates that also pass the size filter, and
verify each candidate exactly. Unlike MinHash LSH this is exact, so it agrees with the all-pairs
reference. With l - 1 more prefix members per room they must share l of them (the l-prefix
scheme, Wang et al. 2012), which drops most chance candidates before the costly exact check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain, combinations, compress, groupby, islice
from operator import eq

import numpy as np
import numpy.typing as npt

from policies.members import Memberships

_SHARED = 3  # l: prefix members a candidate must share (fewer for rooms too small for that)


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


def _head(size: int, t: Fraction) -> int:
    _, _, probe, indexed = _prefix_lengths(size, t)
    return max(probe, indexed)


def find_duplicates(
    rooms: Mapping[str, Collection[str]],
    *,
    threshold: float = 0.8,
    min_members: int = 3,
    rarity: Mapping[str, int] | None = None,
) -> list[DuplicatePair]:
    """All pairs with Jaccard >= threshold among rooms of at least `min_members`, sorted.

    Each room's members must be distinct. `rarity` (smaller is rarer: e.g. the groups each
    member sits in, already counted by the caller) puts rare members first in the order; it must
    cover every member of the eligible rooms. Without it, members are counted over the eligible
    rooms. Any order gives the same pairs; a good one only makes it faster.
    """
    ids = list(rooms)
    members = Memberships.of(rooms.values())
    order = None
    if rarity is not None:
        known = members.contacts
        order = np.fromiter(map(rarity.__getitem__, known), dtype=np.int64, count=len(known))
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
    # The global order: rarest first, ties by code. Each room's members as positions in it,
    # sorted within the room (one sort of (room, position) keys); equal sets of positions are
    # equal sets of members, so the exact check can compare positions too.
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
    size_of: list[int] = sizes.tolist()
    room_at: list[int] = rooms.tolist()
    starts = np.cumsum(sizes) - sizes
    first: list[int] = starts.tolist()
    head_of = np.zeros(int(sizes.max(initial=0)) + 1, dtype=np.int64)
    for size in set(size_of):
        head_of[size] = min(_head(size, t), size)
    # Only the prefixes become Python ints (about a third of the members); the exact check
    # reads the rest from the array, for the few rooms that get that far.
    heads = head_of[sizes]
    position = np.arange(len(ranked), dtype=np.int32)
    position -= np.repeat(starts.astype(np.int32), sizes)  # within the room
    in_prefix = position < np.repeat(heads.astype(np.int32), sizes)
    del position
    # The distinct prefix members numbered 0..k-1 (np.unique), so the prefix index is a list.
    distinct, numbered = np.unique(ranked[in_prefix], return_inverse=True)
    del in_prefix
    # Each room's prefix as its buckets of the prefix index (empty lists, filled by the search),
    # resolved up front so the search itself does no lookups. Room by room, so only one room's
    # prefix is ever Python ints.
    index: list[list[int]] = [[] for _ in range(len(distinct))]
    resolve = index.__getitem__
    bounds = np.cumsum(heads)
    prefixes = [
        list(map(resolve, numbered[start:end].tolist()))
        for start, end in zip((bounds - heads).tolist(), bounds.tolist(), strict=True)
    ]
    del numbered, distinct
    # Smallest first (stable), so the size filter only has to look one way.
    order = np.argsort(sizes, kind="stable").tolist()
    found: list[DuplicatePair] = []
    for size, group in groupby(order, size_of.__getitem__):
        min_size, shared_min, probe, indexed = _prefix_lengths(size, t)
        for i in group:
            buckets = prefixes[i]
            hits = [hit for hit in buckets[:probe] if hit]
            if len(hits) >= shared_min:
                # Rooms in `shared_min` buckets: equal to the item that far on once sorted (in C).
                seq = sorted(chain.from_iterable(hits))
                cands = set(compress(seq, map(eq, seq, islice(seq, shared_min - 1, None))))
                mine: set[int] | None = None
                for j in cands:
                    size_j = size_of[j]
                    if size_j < min_size:
                        continue
                    if mine is None:
                        mine = set(ranked[first[i] : first[i] + size].tolist())
                    shared = len(mine.intersection(ranked[first[j] : first[j] + size_j].tolist()))
                    union = size + size_j - shared
                    if _is_pair(shared, union, t):
                        a, b = sorted((ids[room_at[i]], ids[room_at[j]]))
                        found.append(DuplicatePair(a, b, shared, union))
            for hit in buckets[:indexed]:
                hit.append(i)
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


def twins(pairs: Iterable[DuplicatePair]) -> dict[str, list[DuplicatePair]]:
    """Pairs grouped under each room they involve."""
    out: defaultdict[str, list[DuplicatePair]] = defaultdict(list)
    for p in pairs:
        out[p.a].append(p)
        out[p.b].append(p)
    return dict(out)
