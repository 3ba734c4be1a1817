"""The styled sheet writer: title, header, widths for Chinese text, real dates and numbers,
autofilter, frozen panes and print setup, and refusals of malformed sheets."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.reports.sheets import Column, Sheet, display_width, write_workbook

TZ = ZoneInfo("Asia/Shanghai")
WHEN = datetime(2026, 11, 5, 1, 30, tzinfo=UTC)


def _sheet(**overrides: object) -> Sheet:
    kwargs: dict[str, object] = {
        "name": "汇总表",
        "title": "2026冬季清理｜郾城区｜截至 2026-11-30",
        "columns": (Column("单位"), Column("清理前总数", "int"), Column("清理率", "pct"),
                    Column("截止日期", "date"), Column("处理时间", "datetime")),
        "rows": (
            ("黑龙潭镇党政综合办公室", 12, 33.33, date(2026, 12, 31), WHEN),
            ("合计", 12, 33.33, None, None),
        ),
        "total_row": True,
        "frozen_columns": 1,
    }
    kwargs.update(overrides)
    return Sheet(**kwargs)  # type: ignore[arg-type]


def test_display_width_counts_chinese_double() -> None:
    assert display_width("abc") == 3
    assert display_width("黑龙潭镇") == 8
    assert display_width("（2026）") == 2 + 4 + 2  # full-width brackets are wide too


def test_a_styled_sheet_round_trips(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "out" / "r.xlsx", [_sheet(), _sheet(name="第二页", total_row=False)], TZ)
    wb = load_workbook(path)
    assert wb.sheetnames == ["汇总表", "第二页"]
    ws = wb["汇总表"]
    assert ws["A1"].value == "2026冬季清理｜郾城区｜截至 2026-11-30"
    assert ws["A1"].font.bold
    assert "A1:E1" in {str(r) for r in ws.merged_cells.ranges}
    assert [c.value for c in ws[2]] == ["单位", "清理前总数", "清理率", "截止日期", "处理时间"]
    assert all(c.font.bold and c.fill.fgColor.rgb.endswith("DDEBF7") for c in ws[2])
    _unit, count, pct, end, when = ws[3]
    assert (count.value, count.number_format) == (12, "0")
    assert (pct.value, pct.number_format) == (33.33, '0.00"%"')  # the same number as the JSON
    assert end.is_date
    assert end.number_format == "yyyy-mm-dd"
    assert end.value == datetime(2026, 12, 31)
    assert when.value == datetime(2026, 11, 5, 9, 30)  # local wall time, no time zone in Excel
    # Widths fit the Chinese text: 11 characters count 22.
    assert ws.column_dimensions["A"].width == 24
    assert ws.column_dimensions["D"].width == len("2026-12-31") + 2
    assert ws.freeze_panes == "B3"
    assert ws.auto_filter.ref == "A2:E3"  # the 合计 row is not filtered
    assert ws["A4"].font.bold
    assert ws["A4"].fill.fgColor.rgb.endswith("F2F2F2")
    assert ws.print_title_rows == "$1:$2"
    assert ws.page_setup.orientation == "landscape"
    assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth == 1
    assert wb["第二页"].auto_filter.ref == "A2:E4"


def test_long_text_wraps_at_the_widest_column(tmp_path: Path) -> None:
    reason = "临时群已过截止日期" * 10
    sheet = Sheet("原因", "标题", (Column("原因"),), ((reason,),))
    ws = load_workbook(write_workbook(tmp_path / "w.xlsx", [sheet], TZ))["原因"]
    assert ws.column_dimensions["A"].width == 50
    assert ws["A3"].alignment.wrap_text


@pytest.mark.parametrize(
    ("sheet", "message"),
    [
        (_sheet(name="a/b"), "not a worksheet name"),
        (_sheet(name="很" * 32), "not a worksheet name"),
        (_sheet(rows=(("黑龙潭镇", 1),)), "2 values for 5 columns"),
        (_sheet(rows=(("黑龙潭镇", "十二", 1.0, None, None),)), "int column got text"),
    ],
)
def test_malformed_sheets_are_refused(sheet: Sheet, message: str, tmp_path: Path) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        write_workbook(tmp_path / "bad.xlsx", [sheet], TZ)
    assert not (tmp_path / "bad.xlsx").exists()


def test_repeated_sheet_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="repeat"):
        write_workbook(tmp_path / "bad.xlsx", [_sheet(), _sheet()], TZ)
