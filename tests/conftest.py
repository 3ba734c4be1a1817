"""Shared fixtures: databases (SQLite always, PostgreSQL when a URL is given) and the CLI."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

# python-wechaty writes ./.wechaty at import time unless CACHE_DIR is set.
os.environ.setdefault("CACHE_DIR", tempfile.mkdtemp(prefix="qingqun-wechaty-"))

PG_ENV = "QINGQUN_TEST_POSTGRES_URL"


def _pg_missing_reason() -> str:
    return f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database per test, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} must be set under CI: PostgreSQL tests may not be skipped")
        pytest.skip(_pg_missing_reason())
    import psycopg

    name = "qq_" + uuid.uuid4().hex[:12]
    admin = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    head, _, _ = admin.rpartition("/")
    try:
        yield f"{head}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a storage or scenario test on SQLite and again on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qingqun.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run `qingqun …` in-process; returns (exit code, stdout)."""
    monkeypatch.setenv("QINGQUN_DATA_DIR", str(tmp_path / "data"))
    from bot.cli import main

    def run(*args: str) -> tuple[int, str]:
        buf = io.StringIO()
        with redirect_stdout(buf):
            code = main(list(args))
        return code, buf.getvalue()

    return run


@pytest.fixture(autouse=True)
def _loguru_to_current_stderr() -> Iterator[None]:
    """`qingqun` commands run in-process add a loguru sink on the stderr of that moment, which
    pytest closes after the test; later log lines would hit a closed file. After each test, log
    to whatever stderr is current instead."""
    yield
    from loguru import logger

    logger.remove()
    logger.add(lambda message: sys.stderr.write(message), level="INFO")
