"""A file (a chart) through the outbox: queued once, sent by the real Wechaty through the
in-process puppet, recorded in the transcript, its bytes dropped once sent."""

from __future__ import annotations

import asyncio
import json
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from sqlmodel import select

from bot.core.config import load_settings
from bot.core.domain import MAX_FILE_BYTES, OutgoingFile, OutgoingMessage
from bot.sim.scenario import load_scenario
from bot.sim.simulate import Simulation, write_transcript
from bot.transport.wire import GatewayFileBox, file_box
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import Outbox as OutboxRow

DATA = Path(__file__).parents[1] / "core" / "data"


def tiny_png() -> bytes:
    """A valid 2x1 PNG, so the bytes look like what a chart is."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"\x00\xff\x00\x00\x00\x00\xff"
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_file_messages_are_checked_when_built() -> None:
    png = tiny_png()
    with pytest.raises(ValueError, match="no text"):
        OutgoingMessage(dedupe_key="k", text="说明", recipient_id="zhang", file=OutgoingFile("a.png", png))
    with pytest.raises(ValueError, match="no text"):
        OutgoingMessage(dedupe_key="k", text="", room_id="r", mentions=("z",), file=OutgoingFile("a", png))
    with pytest.raises(ValueError, match="folders"):
        OutgoingFile("../a.png", png)
    with pytest.raises(ValueError, match="empty"):
        OutgoingFile("a.png", b"")
    with pytest.raises(ValueError, match="more than"):
        OutgoingFile("a.png", b"x" * (MAX_FILE_BYTES + 1))


def test_gateway_file_box_json_is_file_box_1x_and_warns_nothing() -> None:
    png = tiny_png()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # python-wechaty's own FileBox JSON raises DeprecationWarning here
        box = file_box(OutgoingFile("趋势.png", png))
        data = json.loads(box.to_json_str())
    assert isinstance(box, GatewayFileBox)
    assert data["type"] == data["boxType"] == 1
    assert data["name"] == "趋势.png"
    assert data["mediaType"] == "image/png"
    import base64

    assert base64.b64decode(data["base64"]) == png


def test_stock_file_box_json_does_warn() -> None:
    """Why GatewayFileBox exists: if this ever stops warning, the compat patch can go."""
    from wechaty_puppet import FileBox

    box = FileBox.from_base64(b"aGVsbG8=", name="a.txt")
    with pytest.warns(DeprecationWarning, match="'warn' method is deprecated"):
        box.to_json_str()


def test_a_file_goes_out_once_through_the_real_wechaty(db_url: str, tmp_path: Path) -> None:
    sc = load_scenario(DATA / "core.yaml")
    settings = load_settings(database_url=db_url).model_copy(update=sc.settings)
    engine = make_engine(settings.db_url)
    png = tiny_png()
    try:
        upgrade(engine)
        sim = Simulation(sc, settings, engine)
        file = OutgoingFile("赵书记-2026-W45.png", png)
        for _ in range(2):  # the same key twice: one row
            sim.app.outbox.enqueue(
                OutgoingMessage(
                    dedupe_key="contact:zhao|supervisor_chart|2026-W45",
                    text="",
                    kind="supervisor_chart",
                    period="2026-W45",
                    recipient_id="zhao",
                    file=file,
                )
            )
        sim.app.outbox.enqueue(
            OutgoingMessage(dedupe_key="room:r0|chart|1", text="", room_id="r0@chatroom",
                            file=OutgoingFile("值班.png", png))
        )
        result = asyncio.run(sim.run())
        with session_scope(engine) as s:
            rows = {r.dedupe_key: r for r in s.exec(select(OutboxRow)).all()}
            sent_rows = {k: (r.status, r.file_name, r.file_data) for k, r in rows.items() if r.file_name}
    finally:
        engine.dispose()
    files = [m for m in result.sent if m.file_name]
    assert [(m.to_id, m.room_id, m.file_name, m.text) for m in files] == [
        ("zhao", None, "赵书记-2026-W45.png", ""),
        (None, "r0@chatroom", "值班.png", ""),
    ]
    assert all(m.file_data == png for m in files)
    assert sent_rows == {
        "contact:zhao|supervisor_chart|2026-W45": ("sent", "赵书记-2026-W45.png", None),
        "room:r0|chart|1": ("sent", "值班.png", None),
    }
    transcript = tmp_path / "t.jsonl"
    write_transcript(result.sent, transcript, sc, settings)
    lines = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()]
    file_lines = [line for line in lines if "file" in line]
    assert [(x["to"], x["room"], x["file"], x["text"]) for x in file_lines] == [
        ("zhao", None, "赵书记-2026-W45.png", ""),
        (None, "r0@chatroom", "值班.png", ""),
    ]
    assert all("file" not in line for line in lines if line["text"])


async def test_a_file_row_without_its_bytes_fails_instead_of_sending_nothing(tmp_path: Path) -> None:
    from datetime import datetime

    from sqlalchemy import update

    from bot.core.clock import VirtualClock
    from bot.services.outbox import Delivery, Outbox

    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'q.db'}", quiet_hours=False)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    box = Outbox(engine, VirtualClock(datetime.fromisoformat("2026-11-02T10:00:00+08:00")), settings)
    chart = OutgoingFile("a.png", tiny_png())
    box.enqueue(OutgoingMessage(dedupe_key="k", text="", recipient_id="zhang", file=chart))
    with session_scope(engine) as s:
        s.execute(update(OutboxRow).values(file_data=None))
    sent: list[Delivery] = []

    class Recorder:
        async def send(self, delivery: Delivery) -> None:
            sent.append(delivery)

    await box.step(Recorder())
    with session_scope(engine) as s:
        row = s.exec(select(OutboxRow)).one()
        assert (row.status, row.error) == ("failed", "file bytes are gone")
    engine.dispose()
    assert sent == []


def test_a_chart_follows_its_digest_text_once(tmp_path: Path) -> None:
    """How a digest carries its chart: text and chart queued in one transaction, the chart
    after the text; queued again (a restart, a second instance) nothing is added."""
    from datetime import date

    from bot.reports import charts
    from bot.reports.outgoing import chart_message

    sc = load_scenario(DATA / "core.yaml")
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'c.db'}").model_copy(update=sc.settings)
    engine = make_engine(settings.db_url)
    trend = charts.TrendChart(
        "黑龙潭镇：在用工作群", (date(2026, 10, 8), date(2026, 10, 15)),
        (charts.UnitSeries("黑龙潭镇", (4, 3)),), baseline=4, target_pct=40.0,
    )
    png = charts.png_bytes(charts.trend_figure(trend))
    try:
        upgrade(engine)
        sim = Simulation(sc, settings, engine)
        for _ in range(2):
            with session_scope(engine) as s:
                text = OutgoingMessage(dedupe_key="contact:zhao|campaign_digest|2026-W45", text="本周进度……",
                                       kind="campaign_digest", period="2026-W45", recipient_id="zhao")
                chart = chart_message(recipient_id="zhao", kind="campaign_chart", period="2026-W45",
                                      name="黑龙潭镇-2026-W45.png", png=png)
                sim.app.outbox.enqueue(text, session=s)
                sim.app.outbox.enqueue(chart, session=s)
        result = asyncio.run(sim.run())
    finally:
        engine.dispose()
    to_zhao = [m for m in result.sent if m.to_id == "zhao" and (m.file_name or m.text == "本周进度……")]
    assert [(m.text, m.file_name) for m in to_zhao] == [("本周进度……", None), ("", "黑龙潭镇-2026-W45.png")]
    assert to_zhao[1].file_data == png
    assert to_zhao[1].file_data.startswith(b"\x89PNG")
