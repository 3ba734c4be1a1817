"""Near-duplicate audiences (受众雷同) by membership Jaccard, without comparing all pairs.

Prefix filtering (AllPairs, Bayardo et al. 2007): order members rarest first; two sets with
Jaccard >= t must share a member within the first |A| - ceil(t*|A|) + 1 of each. So we index
only those prefixes, collect candidates that also pass the size filter, and verify each
candidate exactly. Unlike MinHash LSH this is exact, so it agrees with the all-pairs reference.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations


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


def find_duplicates(
    rooms: Mapping[str, frozenset[str]],
    *,
    threshold: float = 0.8,
    min_members: int = 3,
    rarity: Mapping[str, int] | None = None,
) -> list[DuplicatePair]:
    """All pairs with Jaccard >= threshold among rooms of at least `min_members`, sorted.

    `rarity` orders members rarest first (e.g. the groups each sits in, already counted by the
    caller); it must cover every member of the eligible rooms. Without it, members are counted
    over the eligible rooms. Any order gives the same pairs; a good one only makes it faster.
    """
    t = _threshold(threshold)
    sets = _eligible(rooms, min_members)
    if t <= 0:
        return exact_duplicates(rooms, threshold=threshold, min_members=min_members)
    rank: dict[str, int]
    if rarity is None:
        freq: Counter[str] = Counter()
        for room_members in sets.values():
            freq.update(room_members)
        # Rarest first. Prefix filtering is exact under any one global order, so ties need no
        # tie-break by id (the pairs found are the same): one sort on int keys, no sort of strings.
        by_rarity = sorted(freq, key=freq.__getitem__)
        # Reuse the counts' table for the ranks (same keys, so no resizing): one big dict, not two.
        # (dict.update: Counter.update would add to the counts.)
        rank = freq
        dict.update(rank, zip(by_rarity, range(len(by_rarity)), strict=True))
    else:
        by_rarity = sorted(rarity, key=rarity.__getitem__)
        rank = dict(zip(by_rarity, range(len(by_rarity)), strict=True))
    del by_rarity

    num, den = t.numerator, t.denominator
    ids = sorted(sets)
    members = [sets[rid] for rid in ids]
    sizes = [len(m) for m in members]
    # Only the probing prefix of each room's ordered members is ever read: keep just that.
    encoded = [
        sorted(map(rank.__getitem__, m))[: size - (-(-num * size // den)) + 1]
        for m, size in zip(members, sizes, strict=True)
    ]
    del rank
    # Process rooms by size so the size filter only has to look one way.
    order = sorted(range(len(ids)), key=lambda i: (sizes[i], ids[i]))
    # Bucket entries are room * stride + position: one int each rather than a tuple of two.
    stride = max(len(t) for t in encoded) + 1 if encoded else 1
    index: defaultdict[int, list[int]] = defaultdict(list)
    found: list[DuplicatePair] = []
    for i in order:
        tokens = encoded[i]
        size = sizes[i]
        min_size = -(-num * size // den)  # ceil(t * size): earlier (smaller) rooms need this many
        # Rooms come smallest first, so later (larger) rooms need overlap >= 2t/(1+t)*size with
        # this one; indexing that shorter prefix is enough (PPJoin's indexing prefix).
        indexed = size - (-(-2 * num * size // (num + den))) + 1
        seen: set[int] = set()
        for p, tok in enumerate(tokens):  # the first `probe` tokens (all that is kept)
            bucket = index[tok]
            for entry in bucket:
                j, q = divmod(entry, stride)
                if j in seen:
                    continue
                seen.add(j)
                size_j = sizes[j]
                if size_j < min_size:
                    continue
                # Positional filter (PPJoin): this is the first shared member of both, so the
                # overlap is at most 1 + what follows it in the shorter tail.
                need = -(-num * (size + size_j) // (num + den))
                if 1 + min(size - p - 1, size_j - q - 1) < need:
                    continue
                shared = len(members[i] & members[j])
                union = size + size_j - shared
                if _is_pair(shared, union, t):
                    a, b = sorted((ids[i], ids[j]))
                    found.append(DuplicatePair(a, b, shared, union))
            if p < indexed:
                bucket.append(i * stride + p)
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
