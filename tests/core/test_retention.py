"""Retention: the daily purge removes exactly what is past its keep-by date, on SQLite and
PostgreSQL, is idempotent, and keeps digests exactly-once after their texts are gone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.core.config import ConfigError, Settings, load_settings
from bot.services.retention import run_retention
from storage import outbox as outbox_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import (
    CommandLog,
    DailyActivity,
    EventLog,
    Membership,
    Outbox,
    Room,
    SenderDay,
    TopicChange,
)
from storage.retention import purge

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 3, 20, tzinfo=TZ)  # when the job runs
TODAY = NOW.date()


@pytest.fixture
def engine(db_url: str) -> Engine:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng  # type: ignore[misc]
    eng.dispose()


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def _ago(days: float) -> datetime:
    return (NOW - timedelta(days=days)).astimezone(UTC)


def _day(days: int) -> date:
    return TODAY - timedelta(days=days)


def _seed(engine: Engine) -> None:
    """Rows on both sides of every cut-off (defaults: 35 days, 180 days, 3 years, 3 years)."""
    with session_scope(engine) as s:
        s.add(Room(id="r1", topic="防汛值班群", owner_id="zhang", enrolled_at=_ago(2000)))
        for days in (0, 35, 36, 400):
            s.add(SenderDay(room_id="r1", day=_day(days), contact_id="li", messages=3))
        for days in (0, 1095, 1096):
            s.add(DailyActivity(room_id="r1", day=_day(days), messages=5, distinct_senders=1))
        for key, status, days in (
            ("contact:zhang|owner_digest|2026-W49", "sent", 1),
            ("contact:zhang|owner_digest|2026-W22", "sent", 181),
            ("contact:li|owner_digest|2026-W20", "failed", 200),
            ("contact:wang|owner_digest|2026-W21", "pending", 200),  # never touched while pending
            ("contact:zhang|owner_digest|2023-W40", "sent", 1100),
        ):
            s.add(
                Outbox(
                    dedupe_key=key, kind="owner_digest", period=key.rsplit("|", 1)[1], recipient_id="zhang",
                    text=f"【清群周报】{key}", status=status, created_at=_ago(days), not_before=_ago(days),
                    sent_at=_ago(days) if status == "sent" else None,
                )
            )
        for days in (10, 1094, 1096):
            s.add(EventLog(kind="members_joined", at=_ago(days), room_id="r1", subjects='["li"]'))
            s.add(CommandLog(at=_ago(days), sender_id="zhang", command="状态", outcome="ok"))
            s.add(TopicChange(room_id="r1", at=_ago(days), old_topic="旧", new_topic="新", changed_by="li"))
        s.add(Membership(room_id="r1", contact_id="old", joined_at=_ago(1500), left_at=_ago(1200)))
        s.add(Membership(room_id="r1", contact_id="left", joined_at=_ago(1500), left_at=_ago(100)))
        s.add(Membership(room_id="r1", contact_id="zhang", joined_at=_ago(2000), left_at=None))


def test_purge_removes_exactly_what_is_past_retention(engine: Engine, tmp_path: Path) -> None:
    _seed(engine)
    counts = run_retention(engine, _settings(tmp_path), NOW)
    assert counts.as_dict() == {
        "sender_days": 2,
        "daily_activity": 1,
        "outbox_texts": 2,
        "outbox_rows": 1,
        "events": 1,
        "commands": 1,
        "memberships": 1,
        "topic_changes": 1,
    }
    with session_scope(engine) as s:
        assert sorted(s.scalars(select(SenderDay.day))) == [_day(35), _day(0)]
        assert sorted(s.scalars(select(DailyActivity.day))) == [_day(1095), _day(0)]
        texts = {o.period: (o.status, o.text) for o in s.scalars(select(Outbox))}
        assert texts == {
            "2026-W49": ("sent", "【清群周报】contact:zhang|owner_digest|2026-W49"),
            "2026-W22": ("sent", ""),
            "2026-W20": ("failed", ""),
            "2026-W21": ("pending", "【清群周报】contact:wang|owner_digest|2026-W21"),
        }
        assert s.scalar(select(func.count()).select_from(EventLog)) == 2
        assert s.scalar(select(func.count()).select_from(CommandLog)) == 2
        assert s.scalar(select(func.count()).select_from(TopicChange)) == 2
        assert sorted(s.scalars(select(col(Membership.contact_id)))) == ["left", "zhang"]
        room = s.get(Room, "r1")
        assert room is not None
        assert room.topic == "防汛值班群"


def test_purge_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    _seed(engine)
    first = run_retention(engine, _settings(tmp_path), NOW)
    assert first.total > 0
    assert run_retention(engine, _settings(tmp_path), NOW).total == 0
    # A day later only what crossed a cut-off overnight goes.
    later = run_retention(engine, _settings(tmp_path), NOW + timedelta(days=1))
    assert later.sender_days == 1  # the row from 35 days ago is now 36 days old
    assert later.daily_activity == 1


def test_a_digest_whose_text_was_purged_is_not_queued_again(engine: Engine, tmp_path: Path) -> None:
    key = "contact:zhang|owner_digest|2026-W22"
    kwargs = {
        "dedupe_key": key, "text": "【清群周报】张三您好……", "kind": "owner_digest", "period": "2026-W22",
        "recipient_id": "zhang", "room_id": None, "mentions": (),
    }
    with session_scope(engine) as s:
        assert outbox_db.enqueue_outbox(s, [outbox_db.NewRow(at=_ago(181), **kwargs)])  # type: ignore[arg-type]
        row = s.scalars(select(Outbox)).one()
        row.status, row.sent_at = "sent", _ago(181)
    assert run_retention(engine, _settings(tmp_path), NOW).outbox_texts == 1
    with session_scope(engine) as s:
        # The digest job running again for that week (a restart, a second instance) adds nothing.
        assert not outbox_db.enqueue_outbox(s, [outbox_db.NewRow(at=NOW, **kwargs)])  # type: ignore[arg-type]
        rows = list(s.scalars(select(Outbox)))
    assert [(r.dedupe_key, r.status, r.text) for r in rows] == [(key, "sent", "")]


def test_purged_rows_do_not_linger_in_the_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    marker = "wxid_purgedmarker7f3a"
    with session_scope(eng) as s:
        for days in range(40, 400):
            s.add(SenderDay(room_id="r1", day=_day(days), contact_id=marker, messages=1))
    eng.dispose()
    assert marker.encode() in db.read_bytes()
    eng = make_engine(f"sqlite:///{db}")
    assert run_retention(eng, _settings(tmp_path), NOW).sender_days == 360
    eng.dispose()
    for f in tmp_path.glob("q.db*"):
        assert marker.encode() not in f.read_bytes(), f.name


def test_retention_settings_have_defaults_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert (s.senderday_retention_days, s.outbox_text_retention_days) == (35, 180)
    assert (s.log_retention_days, s.activity_retention_days) == (1095, 1095)
    monkeypatch.setenv("QINGQUN_SENDERDAY_RETENTION_DAYS", "29")
    with pytest.raises(ConfigError, match="QINGQUN_SENDERDAY_RETENTION_DAYS"):
        load_settings()
    monkeypatch.delenv("QINGQUN_SENDERDAY_RETENTION_DAYS")
    monkeypatch.setenv("QINGQUN_RETENTION_CRON", "61 3 * * *")
    with pytest.raises(ConfigError, match="QINGQUN_RETENTION_CRON"):
        load_settings()


def test_purge_rejects_a_naive_now(engine: Engine) -> None:
    with session_scope(engine) as s, pytest.raises(ValueError, match="timezone-aware"):
        purge(s, now=datetime(2026, 1, 1), tz=TZ, senderday_days=35, outbox_text_days=180, log_days=1095,
              activity_days=1095)


def test_readme_names_every_retention_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for field in Settings.model_fields:
        if "retention" in field:
            assert f"QINGQUN_{field.upper()}" in readme, field
