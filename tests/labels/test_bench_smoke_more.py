"""Smoke tests of benchmarks/ingest.py and benchmarks/commands.py at small sizes, on both databases.

No timing assertions: they keep the benchmarks runnable, check that the project's flush writes
exactly what the baseline writes, and that every timed command is answered.
"""

from __future__ import annotations

import importlib.util
import io
import re
import sys
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType

import pytest

BENCHES = Path(__file__).resolve().parents[2] / "benchmarks"


def _bench(name: str) -> ModuleType:
    key = f"qingqun_{name}_bench"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, BENCHES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def _run(module: ModuleType, *args: str) -> tuple[int, list[str]]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = module.main(list(args))
    return code, buf.getvalue().splitlines()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_ingest_writes_what_the_baseline_writes(backend: str, request: pytest.FixtureRequest) -> None:
    extra = [] if backend == "sqlite" else ["--database-url", request.getfixturevalue("pg_url")]
    code, lines = _run(_bench("ingest"), "--events", "20000", "--rooms", "200", "--repeat", "2", *extra)
    assert code == 0, lines
    assert lines[-1].endswith("identical"), lines
    assert re.match(r"ratio project/baseline: \d+\.\d\d \(median of 2 runs; target <= 1\.[35]\)", lines[-2])


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_commands_benchmark_answers_every_command(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    pg = ["--database-url", request.getfixturevalue("pg_url")] if backend == "postgres" else []
    extra = pg or ["--sqlite-only"]
    args = ["--sizes", "200,400", "--runs", "3", "--cache", str(tmp_path / "cache"), *extra]
    code, lines = _run(_bench("commands"), *args)
    assert code == 0
    growth = r"growth 200->400: 状态 \d+\.\dx, 我的群 \d+\.\dx \(target <= 2x\)"
    if backend == "sqlite":
        assert re.fullmatch(growth, lines[-1]), lines
    else:
        assert re.fullmatch(growth, lines[-2]), lines
        assert re.fullmatch("postgresql " + growth, lines[-1]), lines
    assert sum("groups (sqlite" in line for line in lines) == 2
