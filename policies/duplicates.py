"""Near-duplicate audiences (受众雷同) by membership Jaccard, without comparing all pairs.

Prefix filtering (AllPairs, Bayardo et al. 2007): order members by one global order, rare ones
first; two sets with Jaccard >= t must share a member within the first |A| - ceil(t*|A|) + 1 of
each. So we index only those prefixes, collect candidates that also pass the size filter, and
verify each candidate exactly. Unlike MinHash LSH this is exact, so it agrees with the all-pairs
reference. With l - 1 more prefix members per room they must share l of them (the l-prefix
scheme, Wang et al. 2012), which drops most chance candidates before the costly exact check.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain, combinations, compress, groupby, islice, repeat
from operator import eq, le

_SHARED = 3  # l: prefix members a candidate must share (fewer for rooms too small for that)
_RARE_SAMPLE = 256  # rooms sampled to choose the rare/common split
_RARE_SHARE = 0.9  # of sampled rooms whose whole prefix should be rare


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


def _rare_members(rarity: Mapping[str, int], members: list[frozenset[str]], t: Fraction) -> frozenset[str]:
    """The members that come first in the global order: rare ones, enough to fill most prefixes."""
    step = max(1, len(members) // _RARE_SAMPLE)
    cuts: list[int] = []
    for m in islice(members, 0, None, step):
        head = min(_head(len(m), t), len(m))
        if head:
            cuts.append(sorted(map(rarity.__getitem__, m))[head - 1])
    if not cuts:
        return frozenset()
    cuts.sort()
    cut = cuts[int(_RARE_SHARE * (len(cuts) - 1))]
    return frozenset(compress(rarity, map(le, rarity.values(), repeat(cut))))  # filtered in C


def _head(size: int, t: Fraction) -> int:
    _, _, probe, indexed = _prefix_lengths(size, t)
    return max(probe, indexed)


def _prefixes(members: list[frozenset[str]], rarity: Mapping[str, int], t: Fraction) -> list[list[list[int]]]:
    """Each room's first members in the global order, each given as its bucket of the prefix
    index (empty lists, filled by the search).

    The order: rare members by id, then the others by (rarity, id). One set intersection per
    room replaces a rarity lookup per member; only rooms with too few rare members look up the
    rest, so common ones still come rarest first (a hub member early in a prefix would make its
    bucket huge). Buckets are resolved here, in the callers' order (roughly how the sets lie in
    memory), so the search itself does no dict lookups.
    """
    rare = _rare_members(rarity, members, t)
    heads = {size: _head(size, t) for size in set(map(len, members))}
    key = rarity.__getitem__
    bucket: defaultdict[str, list[int]] = defaultdict(list)
    out: list[list[list[int]]] = []
    for m in members:
        head = heads[len(m)]
        tokens = sorted(m & rare)
        if len(tokens) < head:
            rest = sorted(m - rare)
            rest.sort(key=key)  # stable: by rarity, then id
            tokens += rest
        out.append(list(map(bucket.__getitem__, tokens[:head])))
    return out


def find_duplicates(
    rooms: Mapping[str, frozenset[str]],
    *,
    threshold: float = 0.8,
    min_members: int = 3,
    rarity: Mapping[str, int] | None = None,
) -> list[DuplicatePair]:
    """All pairs with Jaccard >= threshold among rooms of at least `min_members`, sorted.

    `rarity` (smaller is rarer: e.g. the groups each member sits in, already counted by the
    caller) puts rare members first in the order; it must cover every member of the eligible
    rooms. Without it, members are counted over the eligible rooms. Any order gives the same
    pairs; a good one only makes it faster.
    """
    t = _threshold(threshold)
    sets = _eligible(rooms, min_members)
    if t <= 0:
        return exact_duplicates(rooms, threshold=threshold, min_members=min_members)
    if rarity is None:
        freq: Counter[str] = Counter()
        for room_members in sets.values():
            freq.update(room_members)
        rarity = freq
    ids = list(sets)
    members = list(sets.values())
    del sets
    prefixes = _prefixes(members, rarity, t)
    sizes = list(map(len, members))
    # Smallest first (stable), so the size filter only has to look one way.
    order = sorted(range(len(members)), key=sizes.__getitem__)
    found: list[DuplicatePair] = []
    for size, group in groupby(order, sizes.__getitem__):
        min_size, shared_min, probe, indexed = _prefix_lengths(size, t)
        for i in group:
            buckets = prefixes[i]
            hits = [hit for hit in buckets[:probe] if hit]
            if len(hits) >= shared_min:
                # Rooms in `shared_min` buckets: equal to the item that far on once sorted (in C).
                seq = sorted(chain.from_iterable(hits))
                cands = set(compress(seq, map(eq, seq, islice(seq, shared_min - 1, None))))
                m = members[i]
                for j in cands:
                    size_j = sizes[j]
                    if size_j < min_size:
                        continue
                    shared = len(m & members[j])
                    union = size + size_j - shared
                    if _is_pair(shared, union, t):
                        a, b = sorted((ids[i], ids[j]))
                        found.append(DuplicatePair(a, b, shared, union))
            for bucket in buckets[:indexed]:
                bucket.append(i)
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
