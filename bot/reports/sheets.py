"""Styled worksheets people forward upward: a title row, a styled header, frozen panes,
column widths that fit Chinese text, an autofilter, real Excel dates and numbers, and a
landscape A4 print setup that repeats the title and header on every page.

A sheet is described by a frozen `Sheet` of plain values; `write_workbook` writes several.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

Kind = Literal["text", "int", "number", "pct", "date", "datetime"]
Cell = str | int | float | date | datetime | None

FORMATS: dict[str, str] = {
    "int": "0",
    "number": "0.00",
    "pct": '0.00"%"',  # the value is the percentage itself (33.33 shows as 33.33%), as in the JSON
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}
MIN_WIDTH = 6
MAX_WIDTH = 50  # wider text wraps
TITLE_ROW, HEADER_ROW, FIRST_DATA_ROW = 1, 2, 3

_THIN = Side(style="thin", color="A6A6A6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
_FONT = "等线"  # Excel's default CJK UI font on Windows; WPS maps it too


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    kind: Kind = "text"
    width: float | None = None  # None: fitted to the header and the values


@dataclass(frozen=True, slots=True)
class Sheet:
    """One worksheet. `rows` hold plain values in column order; aware datetimes are shown in
    the workbook's time zone. With `total_row`, the last row is styled as a 合计 row."""

    name: str  # the tab: at most 31 characters, none of : \\ / ? * [ ]
    title: str  # the title row: what, which scope, as of when
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    total_row: bool = False
    frozen_columns: int = 0  # columns kept in view when scrolling right (e.g. the name)


def display_width(text: str) -> int:
    """Width in Excel's character units: wide and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _shown(value: Cell, kind: Kind) -> str:
    """Roughly what Excel shows for a value, for fitting the width."""
    if value is None:
        return ""
    if kind == "date" or (isinstance(value, date) and not isinstance(value, datetime)):
        return "2026-12-31"
    if kind == "datetime" or isinstance(value, datetime):
        return "2026-12-31 23:59"
    if kind == "pct" and isinstance(value, int | float):
        return f"{value:.2f}%"
    if kind == "number" and isinstance(value, int | float):
        return f"{value:.2f}"
    return str(value)


def _cell_value(value: Cell, kind: Kind, tz: ZoneInfo) -> Cell:
    if isinstance(value, datetime):
        # Excel has no time zones: show the local wall time.
        return value.astimezone(tz).replace(tzinfo=None) if value.tzinfo else value
    if kind in ("int", "number", "pct") and isinstance(value, str):
        raise TypeError(f"a {kind} column got text {value!r}")
    return value


def _check(sheet: Sheet) -> None:
    bad = set(':\\/?*[]') & set(sheet.name)
    if not sheet.name or len(sheet.name) > 31 or bad:
        raise ValueError(f"not a worksheet name: {sheet.name!r}")
    for i, row in enumerate(sheet.rows):
        if len(row) != len(sheet.columns):
            raise ValueError(f"{sheet.name} row {i + 1}: {len(row)} values for {len(sheet.columns)} columns")


def write_sheet(ws: Worksheet, sheet: Sheet, tz: ZoneInfo) -> Worksheet:
    """Fill `ws` (already in a workbook) with the sheet."""
    _check(sheet)
    ws.title = sheet.name
    ncols = len(sheet.columns)
    last_col = get_column_letter(ncols)
    title = ws.cell(TITLE_ROW, 1, sheet.title)
    title.font = Font(name=_FONT, size=14, bold=True)
    title.alignment = Alignment(horizontal="left", vertical="center")
    if ncols > 1:
        ws.merge_cells(f"A{TITLE_ROW}:{last_col}{TITLE_ROW}")
    ws.row_dimensions[TITLE_ROW].height = 24
    for j, col in enumerate(sheet.columns, 1):
        cell = ws.cell(HEADER_ROW, j, col.header)
        cell.font = Font(name=_FONT, bold=True)
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    body = Font(name=_FONT)
    total = Font(name=_FONT, bold=True)
    widths = [display_width(c.header) for c in sheet.columns]
    last_row = FIRST_DATA_ROW + len(sheet.rows) - 1
    for i, row in enumerate(sheet.rows):
        r = FIRST_DATA_ROW + i
        is_total = sheet.total_row and r == last_row
        for j, (col, value) in enumerate(zip(sheet.columns, row, strict=True), 1):
            cell = ws.cell(r, j, _cell_value(value, col.kind, tz))
            cell.border = _BORDER
            cell.font = total if is_total else body
            if is_total:
                cell.fill = _TOTAL_FILL
            kind = col.kind
            if isinstance(value, datetime) and kind == "text":
                kind = "datetime"
            elif isinstance(value, date) and not isinstance(value, datetime) and kind == "text":
                kind = "date"
            if kind in FORMATS and value is not None:
                cell.number_format = FORMATS[kind]
            numeric = kind in ("int", "number", "pct")
            cell.alignment = Alignment(
                horizontal="right" if numeric else ("center" if kind in ("date", "datetime") else "left"),
                vertical="top",
                wrap_text=not numeric,
            )
            for line in _shown(value, kind).splitlines() or [""]:
                widths[j - 1] = max(widths[j - 1], display_width(line))
    for j, col in enumerate(sheet.columns, 1):
        fitted = min(MAX_WIDTH, max(MIN_WIDTH, widths[j - 1] + 2))
        ws.column_dimensions[get_column_letter(j)].width = col.width or fitted
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, sheet.frozen_columns + 1).coordinate
    filter_last = last_row - 1 if sheet.total_row else last_row  # the 合计 row stays put
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last_col}{max(filter_last, HEADER_ROW)}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as needed
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{TITLE_ROW}:{HEADER_ROW}"
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    return ws


def write_workbook(path: Path, sheets: Sequence[Sheet], tz: ZoneInfo) -> Path:
    """Write the sheets, in order, as one .xlsx file."""
    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    names = [s.name for s in sheets]
    if len(set(names)) != len(names):
        raise ValueError(f"sheet names repeat: {names}")
    wb = Workbook()
    first = wb.active
    assert first is not None
    write_sheet(first, sheets[0], tz)
    for sheet in sheets[1:]:
        write_sheet(wb.create_sheet(), sheet, tz)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
