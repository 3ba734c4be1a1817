"""Calendar rules of the jobs, holiday data running out, settings refused at start-up, the scheduler."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from loguru import logger

from bot.app import App
from bot.core.clock import VirtualClock
from bot.core.config import ConfigError, load_settings
from bot.core.cron import parse_cron
from bot.core.domain import OutgoingMessage
from bot.digests import calendar, loading, supervisor
from bot.digests import jobs as digest_jobs
from bot.runtime.scheduler import AppScheduler
from bot.sim.jobs import SimJob, sim_jobs
from storage import directory as directory_db
from storage import outbox as outbox_db
from storage import rooms as rooms_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("end", "reminder", "expiry"),
    [
        (date(2026, 9, 24), date(2026, 9, 21), date(2026, 9, 28)),  # 09-25 中秋, then a weekend
        (date(2026, 10, 4), date(2026, 9, 30), date(2026, 10, 8)),  # 10-01 holiday -> the day before
        (date(2026, 10, 13), date(2026, 10, 10), date(2026, 10, 14)),  # 10-10 is an adjusted Saturday
        (date(2026, 9, 23), date(2026, 9, 20), date(2026, 9, 24)),  # 09-20 is an adjusted Sunday
    ],
)
def test_reminder_and_expiry_days(end: date, reminder: date, expiry: date) -> None:
    assert calendar.reminder_day(end, 3) == reminder
    assert calendar.expiry_day(end) == expiry


def test_first_and_last_working_days_follow_the_statutory_calendar() -> None:
    assert calendar.is_first_workday_of_week(date(2026, 10, 8))  # Thursday after 国庆
    assert not calendar.is_first_workday_of_week(date(2026, 10, 5))
    assert calendar.is_last_workday_of_week(date(2026, 10, 10))  # adjusted Saturday
    assert calendar.is_last_workday_of_week(date(2026, 9, 20))  # adjusted Sunday
    assert calendar.is_last_workday_of_week(date(2026, 9, 24))  # Friday 09-25 is 中秋
    assert not calendar.is_last_workday_of_week(date(2026, 9, 18))


def test_dates_beyond_the_holiday_data_fall_back_to_monday_friday() -> None:
    assert calendar.is_first_workday_of_week(date(2027, 1, 4))
    assert calendar.is_last_workday_of_week(date(2027, 1, 8))
    assert calendar.reminder_day(date(2027, 3, 1), 3) == date(2027, 2, 26)
    assert calendar.calendar_gap(date(2026, 12, 20)) == date(2027, 1, 1)
    assert calendar.calendar_gap(date(2026, 9, 14)) is None


def _app(tmp_path: Path, now: str, **overrides: object) -> App:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'q.db'}", **overrides)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return App(engine=engine, settings=settings, clock=VirtualClock(datetime.fromisoformat(now)))


def _seed(app: App, at: datetime) -> None:
    with session_scope(app.engine) as s:
        directory_db.upsert_unit(s, name="黑龙潭镇", parent=None)
        directory_db.upsert_contact(s, contact_id="ma", name="马强", unit="黑龙潭镇", role="supervisor")
        directory_db.upsert_contact(s, contact_id="zhang", name="张伟", unit="黑龙潭镇")
        directory_db.upsert_contact(s, contact_id="wu", name="吴德军", unit="黑龙潭镇", friend=False)
        rooms_db.enrol_room(s, room_id="r1@chatroom", topic="2024年秋季征兵工作群", owner_id="zhang",
                        admin_ids=(), member_ids=("zhang", "a"), by="zhang", at=at)


def test_holiday_data_gap_is_reported_and_warned_once(tmp_path: Path) -> None:
    # Friday 2026-12-25: last working day of its week; the data ends within the coming 30 days.
    now = datetime(2026, 12, 25, 16, 30, tzinfo=TZ)
    app = _app(tmp_path, now.isoformat())
    _seed(app, now - timedelta(days=20))
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(m.record["message"]), level="WARNING")
    calendar._calendar_warned = False
    try:
        assert digest_jobs.supervisor_digest_job(app.ctx, now) == 1
        digest_jobs.owner_digest_job(app.ctx, now + timedelta(days=11), force=True)  # 2027: no crash
        digest_jobs.reminder_job(app.ctx, now + timedelta(days=12))
        digest_jobs.supervisor_digest_job(app.ctx, now + timedelta(days=14))
    finally:
        logger.remove(sink)
    assert sum("holiday calendar" in m for m in seen) == 1
    with session_scope(app.engine) as s:
        text = next(r.text for r in outbox_db.outbox_rows(s) if r.kind == "supervisor_digest")
    assert "节假日数据只到 2026-12-31" in text


def test_failed_delivery_is_reported_to_the_supervisor(tmp_path: Path) -> None:
    now = datetime(2026, 9, 18, 16, 30, tzinfo=TZ)  # Friday, last working day
    app = _app(tmp_path, now.isoformat())
    _seed(app, now - timedelta(days=3))
    app.outbox.enqueue(OutgoingMessage(dedupe_key="contact:wu|reply|x", text="x", recipient_id="wu"))
    with session_scope(app.engine) as s:
        row = outbox_db.outbox_rows(s)[0]
        row.status, row.error = "failed", "gateway refused the send to wu"
    world = loading.load_world(app.engine, app.rules, now, TZ)
    msg = supervisor.supervisor_digest(world, "ma")
    assert msg is not None
    assert "发送失败 1 条：吴德军（gateway refused the send to wu）" in msg.text


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("QINGQUN_OWNER_DIGEST_CRON", "30 25 * * *", "QINGQUN_OWNER_DIGEST_CRON"),
        ("QINGQUN_SUPERVISOR_DIGEST_CRON", "every friday", "QINGQUN_SUPERVISOR_DIGEST_CRON"),
        ("QINGQUN_REMINDER_CRON", "0 10 * * xyz", "QINGQUN_REMINDER_CRON"),
        ("QINGQUN_TIMEZONE", "Asia/Beijing", "QINGQUN_TIMEZONE"),
    ],
)
def test_bad_schedule_settings_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    env: str, value: str, named: str,
) -> None:
    from bot.cli import main

    monkeypatch.setenv(env, value)
    monkeypatch.setenv("QINGQUN_DATA_DIR", str(tmp_path))
    with redirect_stdout(io.StringIO()):
        code = main(["digest", "preview", "--db", f"sqlite:///{tmp_path / 'q.db'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qingqun: error: {named}: ")
    assert not (tmp_path / "q.db").exists()  # refused before anything was written


def test_load_settings_names_the_cron_setting() -> None:
    with pytest.raises(ConfigError, match=r"^QINGQUN_OWNER_DIGEST_CRON: .*invalid cron"):
        load_settings(owner_digest_cron="61 9 * * *")


def test_crontab_weekday_numbers_mean_what_cron_means() -> None:
    trig = parse_cron("30 9 * * 1", TZ)  # 1 = Monday in crontab (APScheduler alone would say Tuesday)
    nxt = trig.get_next_fire_time(None, datetime(2026, 9, 15, tzinfo=TZ))
    assert nxt == datetime(2026, 9, 21, 9, 30, tzinfo=TZ)
    sunday = parse_cron("0 8 * * 0", TZ).get_next_fire_time(None, datetime(2026, 9, 15, tzinfo=TZ))
    assert sunday is not None
    assert sunday.weekday() == 6


def test_simulated_jobs_fire_on_the_live_triggers(tmp_path: Path) -> None:
    app = _app(tmp_path, "2026-09-14T08:00:00+08:00")
    jobs = sim_jobs(app.ctx)
    assert len(jobs) == 4  # three digest jobs and the retention purge
    owner = next(j for j in jobs if isinstance(j, SimJob) and j.spec.id == "owner_digest")
    assert isinstance(owner, SimJob)
    assert owner.next_fire_time(app.clock.now()) == datetime(2026, 9, 14, 9, 30, tzinfo=TZ)
    assert owner.trigger.get_next_fire_time(None, app.clock.now()) == datetime(2026, 9, 14, 9, 30, tzinfo=TZ)


async def test_scheduler_keeps_unchanged_jobs_and_replaces_changed_ones(tmp_path: Path) -> None:
    app = _app(tmp_path, "2026-09-14T08:00:00+08:00")
    sched = AppScheduler(app.ctx)
    sched.start()
    first = sched.next_run_times()
    sched.shutdown()
    assert set(first) == {"owner_digest", "supervisor_digest", "reminders", "retention"}

    # Same settings: the stored jobs (and their next run times) are kept.
    again = AppScheduler(app.ctx)
    again.start()
    assert again.next_run_times() == first
    again.shutdown()

    # A changed cron replaces its job.
    changed = App(engine=app.engine, settings=app.settings.model_copy(update={"reminder_cron": "0 11 * * *"}),
                  clock=app.clock)
    third = AppScheduler(changed.ctx)
    third.start()
    times = third.next_run_times()
    third.shutdown()
    assert times["owner_digest"] == first["owner_digest"]
    assert times["reminders"] is not None
    assert times["reminders"].astimezone(TZ).hour == 11
