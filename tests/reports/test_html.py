"""index.html: self-contained (no request leaves the file), its embedded font covers every
character on the page, and it renders in headless Chromium."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from matplotlib.image import imread

from bot.reports import charts as c
from bot.reports.html import ChartImage, Page, chart_images, write_page
from bot.reports.sheets import Column, Sheet

TZ = ZoneInfo("Asia/Shanghai")
WIDTH, HEIGHT = 1280, 1000


def _page(tmp_path: Path) -> Page:
    reduction = c.ReductionChart(
        "各单位清理率（截至 2026-11-30）",
        (c.UnitReduction("黑龙潭镇", 12, 8, 33.33), c.UnitReduction("裴城镇", 9, 4, 55.56)),
        target_pct=40.0,
    )
    counts = (c.LabelCount("僵尸群", 3), c.LabelCount("重复群", 1))
    labels = c.LabelChart("在用工作群标签分布", counts, active=12)
    table = Sheet(
        name="汇总表",
        title="汇总表（2026冬季清理｜郾城区｜截至 2026-11-30）",
        columns=(Column("单位"), Column("清理前总数", "int"), Column("现有数", "int"),
                 Column("清理率", "pct")),
        rows=(("黑龙潭镇", 12, 8, 33.33), ("裴城镇", 9, 4, 55.56), ("合计", 21, 12, 42.86)),
        total_row=True,
    )
    return Page(
        title="2026冬季清理 进度报告",
        subtitle="郾城区｜基准 2026-10-08｜截至 2026-11-30",
        table=table,
        charts=chart_images([
            ("各单位清理率", c.reduction(reduction, tmp_path / "reduction.png")),
            ("标签分布", c.labels(labels, tmp_path / "labels.png")),
        ]),
        notes=("清理率 = (清理前总数 − 现有数) ÷ 清理前总数。",),
    )


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.refs: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v or "" for k, v in attrs if k in ("src", "href")]
        self.text += [v or "" for k, v in attrs if k == "alt"]


def test_the_page_needs_nothing_outside_itself(tmp_path: Path) -> None:
    html = write_page(_page(tmp_path), tmp_path / "index.html", TZ).read_text(encoding="utf-8")
    parser = _Text()
    parser.feed(html)
    assert parser.refs
    assert all(ref.startswith("data:image/png;base64,") for ref in parser.refs)
    assert not re.search(r"url\((?!data:)", html)
    assert "http://" not in html
    assert "https://" not in html
    # The embedded font has a glyph for every character shown (style text aside).
    font_b64 = re.search(r"url\(data:font/otf;base64,([A-Za-z0-9+/=]+)\)", html)
    assert font_b64 is not None
    with TTFont(io.BytesIO(base64.b64decode(font_b64.group(1)))) as font:
        cmap = font.getBestCmap()
    shown = "".join(t for t in parser.text if not t.lstrip().startswith(("@font-face", ":root")))
    missing = {ch for ch in shown if not ch.isspace() and ord(ch) not in cmap}
    assert missing == set()
    assert {"黑", "龙", "潭", "镇", "清", "理", "率", "−"} <= {chr(c) for c in cmap}
    # The table carries the figures as given, the total row marked.
    assert '<tr class="total"><td>合计</td><td class="num">21</td>' in html
    assert "42.86%" in html


def test_a_chart_must_be_a_png() -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        ChartImage("图", b"<svg/>")


def _chromium() -> str | None:
    for name in (os.environ.get("QINGQUN_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


def screenshot(page: Path, tmp_path: Path) -> np.ndarray:
    """The page as headless Chromium draws it (RGB, HEIGHT × WIDTH); skipped without chromium."""
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required under CI (.ci/run installs the Debian package)")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.is_file(), proc.stderr[-2000:]
    pixels: np.ndarray = imread(shot)[..., :3]
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    return pixels


def test_the_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = write_page(_page(tmp_path), tmp_path / "site" / "index.html", TZ)
    pixels = screenshot(page, tmp_path)
    grey = pixels.mean(axis=2)
    assert float(np.std(grey)) > 0.05  # not a blank page
    # The page background is #f5f6f8; the sections are white; charts add colour (the green and
    # orange bars of the reduction chart), so the images were decoded and laid out.
    assert (grey < 0.4).mean() > 0.002  # dark text
    colourful = (pixels.max(axis=2) - pixels.min(axis=2)) > 0.3
    assert colourful.mean() > 0.01
    # The charts sit below the table: colour in the lower half means they were laid out.
    assert colourful[HEIGHT // 2 :].mean() > 0.01
