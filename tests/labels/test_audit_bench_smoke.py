"""Smoke test of benchmarks/audit.py: its data builder and the real audit on a few hundred groups.

No timing assertions; this keeps the benchmark runnable and its synthetic world meaningful
(every label code shows up) as the schema and the policies evolve.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "audit.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("qingqun_audit_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and friends look the module up by name
    spec.loader.exec_module(module)
    return module


def test_bench_world_yields_every_label(tmp_path: Path) -> None:
    from policies.model import LABEL_CODES
    from policies.rules import load_rules
    from storage.db import make_engine

    bench = _bench()
    db = tmp_path / "bench.db"
    counts = bench.build_db(db, 300)
    assert counts["rooms"] == 300
    assert counts["memberships"] >= 300 * 20
    engine = make_engine(f"sqlite:///{db}")
    try:
        rows, burdens = bench.run_audit_once(engine, load_rules())
    finally:
        engine.dispose()
    assert len(rows) == 300
    assert burdens
    found = bench.label_counts(rows)
    assert set(found) == set(LABEL_CODES), sorted(set(LABEL_CODES) - set(found))
    # The floor reads the same rows the audit reads.
    assert bench.scan(db) > counts["rooms"]
