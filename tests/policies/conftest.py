from __future__ import annotations

from pathlib import Path

import pytest
from policy_factories import CORPUS_SUMMARY

from policies.rules import Rules, load_rules


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(__file__).with_name("data")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in CORPUS_SUMMARY:
        terminalreporter.write_line(line)
