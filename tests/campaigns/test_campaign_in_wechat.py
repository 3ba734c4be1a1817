"""A campaign as supervisors see it in WeChat: the private `进度` and the weekly digest, whose
campaign section and trend chart (one image right after the text) go out through the real
Wechaty class and the scenario puppet. Run on SQLite and on PostgreSQL.

The scenario is data/campaign.yaml plus three supervisors (郾城区, 黑龙潭镇, 西平县 outside the
scope) and their private messages; the campaign starts on its baseline day, Mon 2026-10-12, in
the middle of the simulation, as an organiser running `qingqun campaign start` would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import App
from bot.core.clock import VirtualClock
from bot.core.config import load_settings
from bot.digests import jobs as digest_jobs
from bot.digests.preview import preview
from bot.reports.charts import png_bytes, trend_figure
from bot.reports.progress import trend_chart, trend_days
from bot.services.campaigns import campaign_status, start_campaign
from bot.services.context import AppContext
from bot.sim.jobs import Job, sim_jobs
from bot.sim.scenario import load_scenario
from bot.sim.simulate import run_simulation, write_transcript
from storage import approvals as approvals_db
from storage import outbox as outbox_db
from storage.db import make_engine, session_scope
from storage.migrate import upgrade

DATA = Path(__file__).parent / "data"
NAME = "2026冬季清理"
TZ = "+08:00"
SUPERVISORS = [
    {"id": "sun", "name": "孙镇长", "unit": "黑龙潭镇", "role": "supervisor"},
    {"id": "gu", "name": "顾督导", "role": "supervisor"},  # no unit in the roster
]
ASKS = [  # (day, who): `进度` in private
    ("2026-10-09", "shuji"),  # before the campaign
    ("2026-11-19", "shuji"),
    ("2026-11-19", "sun"),
    ("2026-11-19", "xp"),  # 西平县: outside the scope
    ("2026-11-19", "zhang"),  # not a supervisor
    ("2026-11-19", "m1"),  # not a supervisor either, with the alias
    ("2026-11-19", "gu"),
]
SUN_W47 = "黑龙潭镇清理进度2026-W47.png"
DIGEST_FRIDAYS = ["2026-10-16", "2026-10-23", "2026-10-30", "2026-11-06", "2026-11-13", "2026-11-20"]


class StartCampaign:
    """The organiser's `qingqun campaign start` at one moment of virtual time."""

    def __init__(self, services: AppContext, at: datetime) -> None:
        self.services = services
        self._next: datetime | None = at

    def next_fire_time(self, after: datetime) -> datetime | None:
        return self._next

    async def fire(self, now: datetime) -> None:
        self._next = None
        start_campaign(
            self.services.engine,
            name=NAME,
            scope="郾城区",
            at=None,
            target_pct=40.0,
            deadline=date(2026, 12, 31),
            now=now,
            rules=self.services.rules,
            tz=self.services.settings.tz,
        )


@dataclass
class Sim:
    sent: list[dict[str, Any]]  # the transcript
    files: dict[tuple[str, str], bytes]  # (recipient, file name) -> the bytes the puppet received
    db: str


def _scenario(tmp_path: Path) -> Path:
    raw = yaml.safe_load((DATA / "campaign.yaml").read_text(encoding="utf-8"))
    raw["contacts"] += SUPERVISORS
    for c in raw["contacts"]:
        if c["id"] == "xp":
            c["role"] = "supervisor"
    for i, (day, who) in enumerate(ASKS):
        word = "清理进度" if who == "m1" else "进度"
        raw["timeline"].append({"at": f"{day}T11:0{i}:00{TZ}", "from": who, "say": word})
    raw["timeline"].sort(key=lambda e: e["at"])  # one offset throughout: text order is time order
    path = tmp_path / "campaign_wechat.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def sim(db_url: str, tmp_path: Path) -> Sim:
    sc = load_scenario(_scenario(tmp_path))
    settings = load_settings(database_url=db_url, data_dir=str(tmp_path / "data"), **sc.settings)
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        start = datetime.fromisoformat(f"2026-10-12T18:30:00{TZ}")

        def jobs(services: AppContext) -> list[Job]:
            return [*sim_jobs(services), StartCampaign(services, start)]

        result = run_simulation(sc, settings, engine, jobs=jobs)
        transcript = tmp_path / "transcript.jsonl"
        write_transcript(result.sent, transcript, sc, settings)
    finally:
        engine.dispose()
    sent = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()]
    files = {(m.conversation_id, m.file_name): m.file_data or b"" for m in result.sent if m.file_name}
    return Sim(sent, files, db_url)


def _progress_replies(sent: list[dict[str, Any]], who: str) -> list[str]:
    """Private texts to `who` other than the scheduled digests and reminders."""
    return [m["text"] for m in sent if m["to"] == who and m["text"] and not m["text"].startswith("【")]


def test_progress_command(sim: Sim) -> None:
    replies = {who: _progress_replies(sim.sent, who) for who in ("shuji", "sun", "xp", "zhang", "m1", "gu")}
    shuji = (
        "郾城区及下辖单位专项行动进度（2026-11-19）：\n"
        "专项行动「2026冬季清理」：清理率 11.11%（基准 9 个群，现有 8 个），目标 40%，还差 28.89 个百分点；"
        "截止 2026-12-31，还有 42 天；进度最慢：新店镇 0.00%、郾城区 0.00%、黑龙潭镇 20.00%；"
        "回头看发现问题 6 个。"
    )
    assert replies["shuji"] == ["目前没有覆盖郾城区的专项行动。", shuji]
    assert len(shuji) <= 300
    assert replies["sun"] == [
        "黑龙潭镇及下辖单位专项行动进度（2026-11-19）：\n"
        "专项行动「2026冬季清理」：清理率 20.00%（基准 5 个群，现有 4 个），目标 40%，还差 20.00 个百分点；"
        "截止 2026-12-31，还有 42 天；进度最慢：黑龙潭村 0.00%、黑龙潭镇 25.00%；回头看发现问题 3 个。"
    ]
    assert replies["xp"] == ["目前没有覆盖西平县的专项行动。"]
    assert replies["gu"] == ["名册里没有你的单位，无法查看进度。请联系管理员在名册中补上单位。"]
    for who in ("zhang", "m1"):
        [refusal] = replies[who]
        assert refusal.startswith("抱歉，“进度”仅限督导使用，请联系"), refusal
    engine = make_engine(sim.db)
    try:
        with session_scope(engine) as s:
            log = [
                (r.sender_id, r.command, json.loads(r.args), r.outcome, r.reason)
                for r in approvals_db.command_log(s)
            ]
    finally:
        engine.dispose()
    progress = [entry for entry in log if entry[1] == "progress"]
    assert progress == [
        ("shuji", "progress", {"campaigns": 0}, "ok", ""),
        ("shuji", "progress", {"campaigns": 1}, "ok", ""),
        ("sun", "progress", {"campaigns": 1}, "ok", ""),
        ("xp", "progress", {"campaigns": 0}, "ok", ""),
        ("zhang", "progress", {}, "refused", "not_supervisor"),
        ("m1", "progress", {}, "refused", "not_supervisor"),
        ("gu", "progress", {}, "refused", "no_unit"),
    ]


def _digests(sent: list[dict[str, Any]], who: str) -> list[int]:
    return [i for i, m in enumerate(sent) if m["to"] == who and m["text"].startswith("【清群督导周报】")]


def test_digest_campaign_section_and_chart(sim: Sim, tmp_path: Path) -> None:
    sent = sim.sent
    files = [m for m in sent if "file" in m]
    for who, unit in (("shuji", "郾城区"), ("sun", "黑龙潭镇")):
        covered = [i for i in _digests(sent, who) if sent[i]["at"][:10] in DIGEST_FRIDAYS]
        assert [sent[i]["at"][:10] for i in covered] == DIGEST_FRIDAYS
        for i in covered:
            assert "专项行动「2026冬季清理」：清理率" in sent[i]["text"]
            chart = sent[i + 1]  # the image comes right after its text
            week = date.fromisoformat(sent[i]["at"][:10]).isocalendar()
            assert chart == {
                "at": chart["at"],
                "to": who,
                "room": None,
                "text": "",
                "file": f"{unit}清理进度{week.year}-W{week.week:02d}.png",
            }
        # Digests before the campaign have neither section nor chart.
        earlier = [i for i in _digests(sent, who) if i not in covered]
        assert earlier
        for i in earlier:
            assert "专项行动" not in sent[i]["text"]
            assert "file" not in sent[i + 1] or sent[i + 1]["to"] != who
        # Once per supervisor and week.
        mine = [m["file"] for m in files if m["to"] == who]
        assert len(mine) == len(set(mine)) == len(DIGEST_FRIDAYS)
    assert not [m for m in files if m["to"] not in ("shuji", "sun")]
    [last] = [i for i in _digests(sent, "shuji") if sent[i]["at"].startswith("2026-11-20")]
    text = sent[last]["text"]
    assert (
        "专项行动「2026冬季清理」：清理率 11.11%（基准 9 个群，现有 8 个），目标 40%，还差 28.89 个百分点；"
        "截止 2026-12-31，还有 41 天；进度最慢：新店镇 0.00%、郾城区 0.00%、黑龙潭镇 20.00%；"
        "回头看发现问题 6 个。"
    ) in text
    for i in _digests(sent, "xp"):
        assert "专项行动" not in sent[i]["text"]
    _chart_is_the_weekly_status_and_a_rerun_queues_nothing(sim, tmp_path)


def _chart_is_the_weekly_status_and_a_rerun_queues_nothing(sim: Sim, tmp_path: Path) -> None:
    settings = load_settings(database_url=sim.db, data_dir=str(tmp_path / "data"))
    now = datetime.fromisoformat(f"2026-11-20T16:30:00{TZ}")
    engine = make_engine(sim.db)
    try:
        app = App(engine=engine, settings=settings, clock=VirtualClock(now))
        with session_scope(engine) as s:
            rows = outbox_db.outbox_rows(s)
            before = [(r.dedupe_key, r.status) for r in rows]
            [row] = [r for r in rows if r.dedupe_key == "contact:sun|supervisor_chart|2026-W47"]
            # Sent: the bytes are dropped from the outbox, the record stays.
            assert (row.status, row.file_name, row.file_data) == ("sent", SUN_W47, None)
        assert digest_jobs.supervisor_digest_job(app.ctx, now) == 0
        assert digest_jobs.supervisor_digest_job(app.ctx, now, force=True) == 0
        with session_scope(engine) as s:
            assert [(r.dedupe_key, r.status) for r in outbox_db.outbox_rows(s)] == before
        # `qingqun digest preview` shows the same section.
        [previewed] = preview(app.ctx, now, supervisor="sun")
        [digest] = [i for i in _digests(sim.sent, "sun") if sim.sent[i]["at"].startswith("2026-11-20")]
        assert previewed.text == sim.sent[digest]["text"]
        # The picture is the campaign's status, asked for each week's day, rooted at 黑龙潭镇.
        days = trend_days(date(2026, 10, 12), date(2026, 11, 20))
        ends = ((10, 18), (10, 25), (11, 1), (11, 8), (11, 15), (11, 20))
        assert days == [date(2026, 10, 12), *(date(2026, m, d) for m, d in ends)]
        statuses = [
            campaign_status(
                engine, name=NAME, at=d, now=now, rules=app.ctx.rules, tz=settings.tz, unit="黑龙潭镇"
            )
            for d in days
        ]
        chart = trend_chart("黑龙潭镇", statuses)
        assert [s.unit for s in chart.units] == ["黑龙潭村", "黑龙潭镇"]
        assert (chart.baseline, chart.target_pct) == (5, 40.0)
        assert [s.active for s in chart.units] == [(1, 1, 1, 1, 1, 1, 1), (4, 4, 2, 2, 3, 3, 3)]
        png = sim.files[("sun", SUN_W47)]
        assert png.startswith(b"\x89PNG")
        assert png == png_bytes(trend_figure(chart))
    finally:
        engine.dispose()
