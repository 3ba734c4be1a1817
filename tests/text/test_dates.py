from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.dates import (
    DateError,
    DateParse,
    check_end_date,
    format_date_cn,
    parse_date,
    parse_leading_date,
)

T = date(2026, 11, 28)  # Saturday
LEAP = date(2028, 2, 10)  # Thursday, leap year
YE = date(2026, 12, 31)  # Thursday, last day of the year
JAN31 = date(2028, 1, 31)


OK_CASES: list[tuple[str, date, date]] = [
    # absolute, numeric
    ("2026-12-31", T, date(2026, 12, 31)),
    ("2026/12/31", T, date(2026, 12, 31)),
    ("2026.12.31", T, date(2026, 12, 31)),
    ("2027-1-5", T, date(2027, 1, 5)),
    ("2026年12月31日", T, date(2026, 12, 31)),
    ("2026年12月31号", T, date(2026, 12, 31)),
    ("2026年12月31", T, date(2026, 12, 31)),
    ("２０２６－１２－３１", T, date(2026, 12, 31)),
    ("２０２６年１２月３１日", T, date(2026, 12, 31)),
    ("  2026-12-31\u200b ", T, date(2026, 12, 31)),
    ("2026 年 12 月 31 日", T, date(2026, 12, 31)),
    ("2028-02-29", T, date(2028, 2, 29)),
    # month/day: next occurrence
    ("12月31日", T, date(2026, 12, 31)),
    ("12月31号", T, date(2026, 12, 31)),
    ("12月31", T, date(2026, 12, 31)),
    ("12-31", T, date(2026, 12, 31)),
    ("12/31", T, date(2026, 12, 31)),
    ("11月28日", T, date(2026, 11, 28)),  # today itself
    ("11月27日", T, date(2027, 11, 27)),  # already past this year
    ("1月5日", T, date(2027, 1, 5)),
    ("1/5", YE, date(2027, 1, 5)),
    ("12月31日", YE, date(2026, 12, 31)),
    ("2月29日", LEAP, date(2028, 2, 29)),
    # Chinese numerals
    ("十二月三十一日", T, date(2026, 12, 31)),
    ("十二月三十一号", T, date(2026, 12, 31)),
    ("二〇二六年十二月三十一日", T, date(2026, 12, 31)),
    ("二零二七年一月一日", T, date(2027, 1, 1)),
    ("两千零二十七年三月十日", T, date(2027, 3, 10)),
    ("一月廿三日", T, date(2027, 1, 23)),
    ("十二月卅一日", T, date(2026, 12, 31)),
    # year end / month end
    ("年底", T, date(2026, 12, 31)),
    ("今年底", T, date(2026, 12, 31)),
    ("今年年底", T, date(2026, 12, 31)),
    ("年末", T, date(2026, 12, 31)),
    ("明年底", T, date(2027, 12, 31)),
    ("明年年底", T, date(2027, 12, 31)),
    ("年底", YE, date(2026, 12, 31)),
    ("明年底", YE, date(2027, 12, 31)),
    ("月底", T, date(2026, 11, 30)),
    ("本月底", T, date(2026, 11, 30)),
    ("月底", LEAP, date(2028, 2, 29)),
    ("本月底", date(2027, 2, 3), date(2027, 2, 28)),
    ("下月底", T, date(2026, 12, 31)),
    ("下个月底", T, date(2026, 12, 31)),
    ("下月底", YE, date(2027, 1, 31)),
    ("下个月底", date(2028, 1, 15), date(2028, 2, 29)),
    ("月底", YE, date(2026, 12, 31)),
    # relative
    ("3天后", T, date(2026, 12, 1)),
    ("3天之后", T, date(2026, 12, 1)),
    ("十天后", T, date(2026, 12, 8)),
    ("1天后", YE, date(2027, 1, 1)),
    ("0天后", T, T),
    ("19天后", LEAP, date(2028, 2, 29)),
    ("2周后", T, date(2026, 12, 12)),
    ("两周后", T, date(2026, 12, 12)),
    ("3个星期后", T, date(2026, 12, 19)),
    ("三个月后", T, date(2027, 2, 28)),  # Feb 28 clamp
    ("3月后", T, date(2027, 2, 28)),
    ("1个月后", JAN31, date(2028, 2, 29)),  # leap-year clamp
    ("一个月后", LEAP, date(2028, 3, 10)),
    ("十二个月后", T, date(2027, 11, 28)),
    ("1年后", T, date(2027, 11, 28)),
    ("1年后", date(2028, 2, 29), date(2029, 2, 28)),
    ("３天后", T, date(2026, 12, 1)),
    ("3 天后", T, date(2026, 12, 1)),
    # extras
    ("今天", T, T),
    ("明天", YE, date(2027, 1, 1)),
    ("后天", T, date(2026, 11, 30)),
    ("半年后", T, date(2027, 5, 28)),
    ("5天内", T, date(2026, 12, 3)),
    ("周五", T, date(2026, 12, 4)),
    ("星期六", T, T),
    ("下周一", T, date(2026, 11, 30)),
    ("下周五", LEAP, date(2028, 2, 18)),
    ("本周五", LEAP, date(2028, 2, 11)),
    ("30号", T, date(2026, 11, 30)),
    ("5号", T, date(2026, 12, 5)),
    ("下月5号", T, date(2026, 12, 5)),
    ("截止12月31日", T, date(2026, 12, 31)),
    ("12月31日前", T, date(2026, 12, 31)),
    ("月底之前", T, date(2026, 11, 30)),
    ("2026-12-31（周四）", T, date(2026, 12, 31)),
]


@pytest.mark.parametrize(("text", "today", "expected"), OK_CASES)
def test_parse_date_ok(text: str, today: date, expected: date) -> None:
    assert parse_date(text, today=today) == expected


ERROR_CASES: list[tuple[str, date, str]] = [
    # impossible dates
    ("2026-02-30", T, "日期不存在"),
    ("2026-13-01", T, "日期不存在"),
    ("13月1日", T, "日期不存在"),
    ("2月30日", T, "日期不存在"),
    ("4月31日", T, "日期不存在"),
    ("0月5日", T, "日期不存在"),
    ("2027-02-29", T, "日期不存在"),
    ("2027年2月29日", T, "日期不存在"),
    ("2月29日", T, "日期不存在"),  # next occurrence is 2027, not a leap year
    ("十三月一日", T, "日期不存在"),
    ("31号", T, "日期不存在"),  # November has 30 days
    # nonsense
    ("明年春天", T, "无法识别"),
    ("asdf", T, "无法识别"),
    ("12 31", T, "无法识别"),
    ("3天前", T, "无法识别"),
    ("三四十天后", T, "无法识别"),
    ("2026-12/31", T, "无法识别"),
    ("底", T, "无法识别"),
    ("12月31日 征兵体检", T, "无法识别"),
    ("", T, "例如"),
    ("\u200b \u3000", T, "例如"),
    # mismatching weekday note
    ("2026-12-31(周五)", T, "周四"),
    # arithmetic overflow
    ("99999999天后", T, "超出范围"),
]


@pytest.mark.parametrize(("text", "today", "fragment"), ERROR_CASES)
def test_parse_date_errors(text: str, today: date, fragment: str) -> None:
    with pytest.raises(DateError) as info:
        parse_date(text, today=today)
    assert fragment in str(info.value)


def test_nonsense_message_has_example() -> None:
    with pytest.raises(DateError) as info:
        parse_date("明年春天", today=T)
    msg = str(info.value)
    assert "明年春天" in msg
    assert "2026-12-31" in msg
    assert "12月31日" in msg


def test_impossible_message_names_the_date() -> None:
    with pytest.raises(DateError) as info:
        parse_date("2027-02-29", today=T)
    assert "2027" in str(info.value)
    assert "29" in str(info.value)


LEADING_CASES: list[tuple[str, date, DateParse | None]] = [
    ("12月31日 征兵体检", T, DateParse(date(2026, 12, 31), 1)),
    ("2026-12-31", T, DateParse(date(2026, 12, 31), 1)),
    ("１２月３１日\u3000征兵体检 临时", T, DateParse(date(2026, 12, 31), 1)),
    ("2026 年 12 月 31 日 征兵体检", T, DateParse(date(2026, 12, 31), 6)),
    ("12月 31日 征兵", T, DateParse(date(2026, 12, 31), 2)),
    ("3 天后 征兵", T, DateParse(date(2026, 12, 1), 2)),
    ("三个月后 人口普查 专班", T, DateParse(date(2027, 2, 28), 1)),
    ("截止 月底 工作群", T, DateParse(date(2026, 11, 30), 2)),
    ("月底 前", T, DateParse(date(2026, 11, 30), 2)),
    ("年底", YE, DateParse(date(2026, 12, 31), 1)),
    ("2026-12-31 12:00 专班", T, DateParse(date(2026, 12, 31), 1)),
    ("征兵体检 12月31日", T, None),
    ("12 31 征兵", T, None),
    ("明年春天 征兵", T, None),
    ("", T, None),
    ("2026 征兵", T, None),
]


@pytest.mark.parametrize(("text", "today", "expected"), LEADING_CASES)
def test_parse_leading_date(text: str, today: date, expected: DateParse | None) -> None:
    assert parse_leading_date(text, today=today) == expected


@pytest.mark.parametrize("text", ["2026-02-30 征兵", "13月1日 征兵", "12月 32日 征兵"])
def test_parse_leading_date_impossible_raises(text: str) -> None:
    with pytest.raises(DateError, match="日期不存在"):
        parse_leading_date(text, today=T)


@pytest.mark.parametrize(
    ("value", "today", "max_years"),
    [
        (T, T, 2),
        (date(2028, 11, 28), T, 2),
        (date(2027, 11, 28), T, 1),
        (date(2030, 2, 10), LEAP, 2),
        (date(2030, 2, 28), date(2028, 2, 29), 2),
        (date(2028, 2, 28), date(2026, 2, 28), 2),
    ],
)
def test_check_end_date_ok(value: date, today: date, max_years: int) -> None:
    assert check_end_date(value, today=today, max_years=max_years) is None
    # The same check refuses the day before today: the accepted case is not accepted blindly.
    with pytest.raises(DateError):
        check_end_date(today - timedelta(days=1), today=today, max_years=max_years)


@pytest.mark.parametrize(
    ("value", "today", "max_years", "fragments"),
    [
        (date(2026, 11, 27), T, 2, ["过去", "2026-11-27"]),
        (date(2020, 1, 1), T, 2, ["过去", "2020-01-01"]),
        (date(2028, 11, 29), T, 2, ["超过两年", "2028-11-29", "2028-11-28"]),
        (date(2030, 3, 1), date(2028, 2, 29), 2, ["超过两年", "2030-02-28"]),
        (date(2027, 11, 29), T, 1, ["超过一年"]),
    ],
)
def test_check_end_date_errors(value: date, today: date, max_years: int, fragments: list[str]) -> None:
    with pytest.raises(DateError) as info:
        check_end_date(value, today=today, max_years=max_years)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 12, 31), "2026-12-31（周四）"),
        (date(2026, 11, 28), "2026-11-28（周六）"),
        (date(2026, 11, 29), "2026-11-29（周日）"),
        (date(2028, 2, 29), "2028-02-29（周二）"),
    ],
)
def test_format_date_cn(value: date, expected: str) -> None:
    assert format_date_cn(value) == expected


def test_format_round_trips() -> None:
    for value in (date(2026, 12, 31), date(2027, 1, 1), date(2028, 2, 29)):
        assert parse_date(format_date_cn(value), today=T) == value


def test_huge_input_is_bounded() -> None:
    huge = "12月31日" * 20_000 + " 征兵" * 20_000
    start = time.perf_counter()
    with pytest.raises(DateError):
        parse_date(huge, today=T)
    assert parse_leading_date(huge, today=T) is None
    assert parse_leading_date("12月31日 " + huge, today=T) == DateParse(date(2026, 12, 31), 1)
    assert time.perf_counter() - start < 2.0


_dateish = st.text(
    alphabet="0123456789-/.年月日号天周个星期后之内前底末本下明今两十百千廿卅〇零一二三五九"
    " （）()\u3000\u200b",
    max_size=20,
)
_todays = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


@given(st.one_of(st.text(), _dateish), _todays)
def test_fuzz_only_date_error(text: str, today: date) -> None:
    messages: list[str] = []
    try:
        value = parse_date(text, today=today)
        assert isinstance(value, date)
    except DateError as exc:
        messages.append(str(exc))
    try:
        lead = parse_leading_date(text, today=today)
        assert lead is None or lead.consumed >= 1
    except DateError as exc:
        messages.append(str(exc))
    assert all(messages)
