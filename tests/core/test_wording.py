"""The wording module: the greeting's example and the command examples are always accepted."""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.commands.registry import REGISTRY
from bot.core import wording
from bot.core.dates import check_end_date, parse_date


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_the_greeting_example_date_follows_the_clock_and_is_always_valid() -> None:
    assert "登记 临时 2027-01-31 用途" in wording.greeting("清群助手", date(2026, 12, 2))
    assert "登记 临时 2027-07-31 用途" in wording.greeting("清群助手", date(2027, 6, 10))
    for today in _days(date(2026, 1, 1), date(2028, 12, 31)):
        text = wording.greeting("清群助手", today)
        (example,) = re.findall(r"登记 临时 (\d{4}-\d{2}-\d{2}) 用途", text)
        value = parse_date(example, today=today)
        check_end_date(value, today=today)  # raises for a past or too distant date
        assert value > today


def test_every_command_example_names_a_registered_command() -> None:
    for spec in REGISTRY:
        matched, _ = REGISTRY.match(spec.example.split())
        assert matched is spec, spec.example


def test_footers_use_the_registered_command_words() -> None:
    words = {spec.name for spec in REGISTRY}
    for footer in (wording.OWNER_FOOTER, wording.SUPERVISOR_FOOTER):
        quoted = [inside.split()[0] for inside in re.findall(r'"([^"]+)"', footer)]
        assert quoted
        assert set(quoted) <= words, quoted


def test_one_label_table() -> None:
    codes = {"temporary_expired", "phase_expired", "suspected_phase_expired", "idle", "duplicate",
             "unregistered", "ownerless", "ending_soon", "after_hours", "mention_all_heavy"}  # fmt: skip
    assert set(wording.LABEL_CN) == codes
    assert len(set(wording.LABEL_CN.values())) == len(codes)
