"""Smoke test of benchmarks/fleet.py: a tiny fleet (200 groups, 100 owners, 4 accounts), both databases.

No timing assertions. It keeps the benchmark runnable and checks what its figures stand on: every
owner digest of the round goes out exactly once, through the account it was routed to, and that
account can reach the recipient (a friend for a private digest, in the group for an @mention);
no account sends more than `send_hourly_cap` in any hour, nor two pushes closer than
`send_interval_min`.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "fleet.py"


def _bench() -> ModuleType:
    key = "qingqun_fleet_bench"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_every_digest_leaves_once_through_an_account_that_reaches_its_recipient(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from bot.core.config import load_settings

    bench = _bench()
    url = f"sqlite:///{tmp_path / 'fleet.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    lines, misses, raw = bench.run(url, rooms=200, owners=100, accounts=4)
    world, sent = raw["world"], raw["sent"]
    settings = load_settings()

    digests = {r[0]: r for r in sent["rows"] if r[1] == "owner_digest"}
    assert len(digests) == raw["timing"]["queued"] > 0
    # Private digests and @mentions both occur (some owners are nobody's friend).
    assert any(r[5] is None for r in digests.values())
    assert any(r[5] is not None for r in digests.values())
    assert all(r[3] == "sent" for r in digests.values())

    log = sent["log"]
    assert Counter(s.row_id for s in log) == Counter(dict.fromkeys(digests, 1))
    assert sent["violations"] == []
    for s in log:
        _, _, routed, _, recipient, room, mentions = digests[s.row_id]
        assert s.account == routed
        if room is None:
            assert s.account in world.friends[recipient]
        else:
            assert s.account in world.presence[room]
            assert world.friends[json.loads(mentions)[0]] == set()  # only non-friends are @mentioned

    for account in world.accounts:
        times = [s.at for s in log if s.account == account]
        assert times, account  # the round spreads over every account
        assert bench.max_in_hour(times) <= settings.send_hourly_cap
        gap = bench.min_gap(times)
        assert gap is None or gap >= settings.send_interval_min
    assert not {"reachability", "exactly once", "hourly cap", "gap"} & set(misses), lines
