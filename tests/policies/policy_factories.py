"""Hand-built facts for policy tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from policies.model import DayActivity, RoomFacts

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A Shanghai wall-clock moment as a UTC-aware datetime, like storage hands it over."""
    return datetime(y, m, d, hh, mm, tzinfo=SH).astimezone(UTC)


def room(room_id: str = "r1", **over: Any) -> RoomFacts:
    now = over.pop("_now", local(2026, 11, 15))
    base: dict[str, Any] = {
        "room_id": room_id,
        "topic": "黑龙潭镇党政办工作群",
        "owner_id": "zhang",
        "status": "active",
        "kind": "standing",
        "end_date": None,
        "approved": True,
        "enrolled_at": now - timedelta(days=3),
        "member_ids": frozenset({"zhang", "li", "wang"}),
        "last_activity": now - timedelta(hours=1),
        "created_on": None,
    }
    base.update(over)
    return RoomFacts(**base)


def days(
    start: date, n: int, messages: int, after_hours: int = 0, mention_all: int = 0
) -> tuple[DayActivity, ...]:
    return tuple(
        DayActivity(start + timedelta(days=i), messages, after_hours, mention_all, 2) for i in range(n)
    )


# Filled by test_names.py; conftest prints it at the end of the run so it shows in `pytest -q`.
CORPUS_SUMMARY: list[str] = []
