from __future__ import annotations

from pathlib import Path

import pytest

from policies.rules import Rules, load_rules

# Filled by test_names.py; printed at the end of the run so the numbers show in `pytest -q`.
CORPUS_SUMMARY: list[str] = []


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(__file__).with_name("data")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in CORPUS_SUMMARY:
        terminalreporter.write_line(line)
