"""No Docker engine here, so keep the Dockerfile honest another way: build the wheel from exactly
the files its COPY lines put in the build context, and check that it carries what `qingqun run`
needs at run time (migrations, the rule file, the demo scenario, the console script)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _copied_paths() -> list[str]:
    paths: list[str] = []
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
            paths.extend(p.rstrip("/") for p in parts[1:-1])
    return paths


def test_the_image_context_builds_a_complete_wheel(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    paths = _copied_paths()
    assert {"pyproject.toml", "README.md", "bot", "policies", "storage"} <= set(paths)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for rel in paths:
        src = ROOT / rel
        assert src.exists(), f"Dockerfile copies {rel}, which is not in the repository"
        if src.is_dir():
            shutil.copytree(src, context / rel, ignore=ignore)
        else:
            shutil.copy2(src, context / rel)
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(context)],
        check=True, timeout=300,
    )
    (wheel,) = out.glob("qingqun-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "qingqun = bot.cli:main" in zf.read(entry_points).decode()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    # Charts need no system font in the image: the Chinese font is a Python dependency.
    requires = {line.split(":", 1)[1].strip().split(" ")[0].split("=")[0].split(">")[0]
                for line in metadata.splitlines() if line.startswith("Requires-Dist:")}
    assert {"matplotlib", "pylopdf-fonts-zh-cn"} <= requires
    for needed in (
        "bot/transport/adapter.py",
        "bot/sim/data/township.yaml",
        "policies/rules.toml",
        "storage/migrations/env.py",
        "storage/migrations/script.py.mako",
        "storage/migrations/versions/0001_initial_schema.py",
    ):
        assert needed in names, needed
    versions = {p.name for p in (ROOT / "storage/migrations/versions").glob("*.py")}
    assert {n.rsplit("/", 1)[-1] for n in names if "/migrations/versions/" in n} >= versions


def test_the_image_health_check_is_qingqun_status_check() -> None:
    lines = [line for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
             if line.startswith("HEALTHCHECK")]  # fmt: skip
    assert len(lines) == 1
    assert lines[0].endswith('CMD ["qingqun", "status", "--check"]')
