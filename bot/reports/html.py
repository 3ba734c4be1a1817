"""One self-contained index.html: a summary table and the charts, for people who would rather
look than open Excel. Everything is inside the file (the charts as base64 PNG, the styles, and
a subset of the report font holding just the characters on the page), so it opens from a
folder, a USB stick or a chat attachment, in any browser, without a server or the network.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.reports.fonts import subset
from bot.reports.sheets import Cell, Kind, Sheet

FONT_FAMILY = "QingqunReport"


@dataclass(frozen=True, slots=True)
class ChartImage:
    """A chart already drawn: its caption and the PNG bytes."""

    caption: str
    png: bytes

    def __post_init__(self) -> None:
        if not self.png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValueError(f"chart {self.caption!r} is not a PNG")


@dataclass(frozen=True, slots=True)
class Page:
    """`table` is the same Sheet the workbook gets (its title becomes the table's caption)."""

    title: str
    subtitle: str  # scope and date, e.g. "郾城区｜基准 2026-10-08｜截至 2026-11-30"
    table: Sheet | None = None
    charts: tuple[ChartImage, ...] = ()
    notes: tuple[str, ...] = ()  # short explanations shown under the table


def _cell(value: Cell, kind: Kind, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = value.astimezone(tz) if value.tzinfo else value
        return f"{local:%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    if kind == "pct" and isinstance(value, int | float):
        return f"{value:.2f}%"
    if kind == "number" and isinstance(value, int | float):
        return f"{value:.2f}"
    return str(value)


_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 40px; background: #f5f6f8; color: #1f2328;
       font-family: FONT, sans-serif; font-size: 15px; line-height: 1.5; }
header { margin-bottom: 20px; }
h1 { font-size: 26px; margin: 0 0 4px; font-weight: normal; }
.subtitle { color: #57606a; margin: 0; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 16px 20px;
          margin-bottom: 20px; }
h2 { font-size: 18px; margin: 0 0 12px; font-weight: normal; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; min-width: 60%; }
th, td { border: 1px solid #d0d7de; padding: 6px 10px; white-space: nowrap; }
th { background: #ddebf7; font-weight: normal; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { background: #f2f2f2; font-weight: bold; }
tbody tr:nth-child(even):not(.total) td { background: #fafbfc; }
.notes { color: #57606a; font-size: 13px; margin: 10px 0 0; padding-left: 20px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 20px; }
figure { margin: 0; background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 12px; }
figure img { width: 100%; height: auto; display: block; }
figcaption { color: #57606a; font-size: 13px; margin-top: 6px; text-align: center; }
footer { color: #8c959f; font-size: 12px; margin-top: 8px; }
"""


def _table(sheet: Sheet, tz: ZoneInfo) -> str:
    head = "".join(f"<th>{escape(c.header)}</th>" for c in sheet.columns)
    body: list[str] = []
    for i, row in enumerate(sheet.rows):
        total = sheet.total_row and i == len(sheet.rows) - 1
        cells = "".join(
            f'<td class="num">{escape(_cell(v, c.kind, tz))}</td>'
            if c.kind in ("int", "number", "pct")
            else f"<td>{escape(_cell(v, c.kind, tz))}</td>"
            for c, v in zip(sheet.columns, row, strict=True)
        )
        body.append(f'<tr class="total">{cells}</tr>' if total else f"<tr>{cells}</tr>")
    caption = f"<h2>{escape(sheet.title or sheet.name)}</h2>"
    return (
        f'{caption}<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render(page: Page, tz: ZoneInfo) -> str:
    """The page as one HTML string."""
    parts: list[str] = []
    if page.table is not None:
        notes = "".join(f"<li>{escape(n)}</li>" for n in page.notes)
        parts.append(
            f"<section>{_table(page.table, tz)}"
            + (f'<ul class="notes">{notes}</ul>' if notes else "")
            + "</section>"
        )
    if page.charts:
        figures = "".join(
            f'<figure><img alt="{escape(c.caption)}" src="data:image/png;base64,'
            f'{base64.b64encode(c.png).decode("ascii")}"><figcaption>{escape(c.caption)}</figcaption></figure>'
            for c in page.charts
        )
        parts.append(f'<section><h2>图表</h2><div class="charts">{figures}</div></section>')
    footer = "本页由清群生成，表格与图表出自同一组数据；可离线打开、转发。"
    text_shown = page.title + page.subtitle + footer + "图表" + "".join(parts)
    font = base64.b64encode(subset(text_shown)).decode("ascii")
    css = _CSS.replace("FONT", FONT_FAMILY)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(page.title)}</title>\n"
        f'<style>\n@font-face {{ font-family: "{FONT_FAMILY}"; '
        f'src: url(data:font/otf;base64,{font}) format("opentype"); }}\n{css}</style>\n'
        "</head>\n<body>\n"
        f'<header><h1>{escape(page.title)}</h1><p class="subtitle">{escape(page.subtitle)}</p></header>\n'
        + "\n".join(parts)
        + f"\n<footer>{escape(footer)}</footer>\n</body>\n</html>\n"
    )


def write_page(page: Page, path: Path, tz: ZoneInfo) -> Path:
    """Write the page (usually DIR/index.html)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(page, tz), encoding="utf-8")
    return path


def chart_images(paths: Sequence[tuple[str, Path]]) -> tuple[ChartImage, ...]:
    """(caption, PNG path) pairs, read for inlining."""
    return tuple(ChartImage(caption, p.read_bytes()) for caption, p in paths)
