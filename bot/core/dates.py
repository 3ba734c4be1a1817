"""Parsing of Chinese end-date expressions in chat commands.

Pure functions: `today` is always passed in, nothing reads the clock.  Every
user-facing failure is a `DateError` whose `str()` is a short Simplified-Chinese
explanation that can be sent back to the chat as is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from bot.core.textnorm import split_args

__all__ = [
    "DateError",
    "DateParse",
    "check_end_date",
    "format_date_cn",
    "parse_date",
    "parse_leading_date",
]


@dataclass(frozen=True)
class DateParse:
    value: date
    consumed: int  # leading tokens of `split_args(text)` that make up the date


class DateError(ValueError):
    """`str(err)` is a short Simplified-Chinese explanation for the user."""


_WEEKDAYS_CN = "一二三四五六日"
_WEEKDAY_INDEX = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}

# Longest compact expression we bother to look at; anything longer is not a date.
_MAX_EXPR_LEN = 40
# How many leading tokens parse_leading_date may join ("2026 年 12 月 31 日" is 6).
_MAX_TOKENS = 6

# --------------------------------------------------------------------------- numbers

_CN_DIGITS = {
    "〇": 0, "零": 0, "○": 0,
    "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUM_CHARS = "0-9〇零○一二两三四五六七八九十百千廿卅"
_NUM = f"[{_NUM_CHARS}]{{1,10}}"
_DIGITISH = frozenset("0123456789") | frozenset(_CN_DIGITS) | frozenset("十百千廿卅")


def _to_int(s: str) -> int | None:
    """ASCII digits, digit-by-digit Chinese (二〇二六) or positional Chinese (两千零二十六)."""
    if not s:
        return None
    if s.isascii():
        return int(s) if s.isdigit() else None
    if all(ch in _CN_DIGITS for ch in s):
        if len(s) == 1 or "两" not in s:
            return int("".join(str(_CN_DIGITS[ch]) for ch in s))
        return None
    total = 0
    cur: int | None = None
    last_unit = 10_000
    for i, ch in enumerate(s):
        if ch in ("廿", "卅"):
            if i != 0:
                return None
            total, last_unit = (20 if ch == "廿" else 30), 10
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if unit >= last_unit:
                return None
            total += (1 if cur is None else cur) * unit
            cur, last_unit = None, unit
        elif ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
            if digit == 0:
                if cur is not None:
                    return None
                continue
            if cur is not None:
                return None
            cur = digit
        else:
            return None
    return total + (cur or 0)


def number_value(s: str) -> int | None:
    """ASCII digits or Chinese numerals (三, 十二, 一〇二) as an int; any other digits are not numbers."""
    return _to_int(s)


# --------------------------------------------------------------------------- errors


def _unrecognized(text: str, today: date) -> DateError:
    shown = text if len(text) <= 20 else text[:20] + "…"
    return DateError(
        f"无法识别日期“{shown}”，请写成 {today.year}-12-31 或 12月31日"
        "（也可以写“月底”“年底”“3天后”“两个月后”）"
    )


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


def _make_date(year: int, month: int, day: int) -> date:
    if not 1 <= month <= 12:
        raise DateError(f"日期不存在：没有{month}月（月份应为 1 到 12）")
    if not 1 <= year <= 9999:
        raise DateError(f"日期不存在：年份 {year} 超出范围")
    dim = _days_in_month(year, month)
    if not 1 <= day <= dim:
        if month == 2 and day == 29:
            raise DateError(f"日期不存在：{year}年不是闰年，2月没有29日")
        raise DateError(f"日期不存在：{year}年{month}月只有{dim}天，没有{day}日")
    return date(year, month, day)


def _check_month_day(month: int, day: int) -> None:
    """Reject month/day pairs that exist in no year at all."""
    if not 1 <= month <= 12:
        raise DateError(f"日期不存在：没有{month}月（月份应为 1 到 12）")
    longest = 29 if month == 2 else _days_in_month(2001, month)
    if not 1 <= day <= longest:
        raise DateError(f"日期不存在：{month}月没有{day}日")


def _out_of_range() -> DateError:
    return DateError("日期超出范围，请写一个具体日期，例如 12月31日")


# --------------------------------------------------------------------------- arithmetic


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise _out_of_range()
    month = month0 + 1
    return date(year, month, min(d.day, _days_in_month(year, month)))


def _add_days(d: date, days: int) -> date:
    try:
        return d + timedelta(days=days)
    except OverflowError:
        raise _out_of_range() from None


def _month_end(year: int, month: int) -> date:
    return date(year, month, _days_in_month(year, month))


def _add_years(d: date, years: int) -> date:
    year = d.year + years
    if year > 9999:
        return date.max
    return date(year, d.month, min(d.day, _days_in_month(year, d.month)))


def _next_month(today: date) -> tuple[int, int]:
    if today.month == 12:
        if today.year >= 9999:
            raise _out_of_range()
        return today.year + 1, 1
    return today.year, today.month + 1


# --------------------------------------------------------------------------- patterns

_AFTER = r"(?:后|之后|以后|内|之内|以内)"
_PREFIX = re.compile(r"^(?:截止到|截至到|截止|截至|直到|到|至)")
_SUFFIX = re.compile(r"(?:之前|以前|前|为止|截止|止)$")
_WEEKDAY_NOTE = re.compile(r"\((?:周|星期|礼拜)([一二三四五六日天])\)$")

_Handler = Callable[[re.Match[str], date], date | None]
_RULES: list[tuple[re.Pattern[str], _Handler]] = []


def _rule(pattern: str) -> Callable[[_Handler], _Handler]:
    def register(fn: _Handler) -> _Handler:
        _RULES.append((re.compile(pattern), fn))
        return fn

    return register


def _nums(m: re.Match[str], *names: str) -> list[int] | None:
    values = [_to_int(m[name]) for name in names]
    if any(v is None for v in values):
        return None
    return [v for v in values if v is not None]


def _full_date(m: re.Match[str], _today: date) -> date | None:
    nums = _nums(m, "y", "m", "d")
    if nums is None:
        return None
    year, month, day = nums
    if year < 1000:
        return None
    return _make_date(year, month, day)


def _next_occurrence(month: int, day: int, today: date) -> date:
    _check_month_day(month, day)
    year = today.year if (month, day) >= (today.month, today.day) else today.year + 1
    return _make_date(year, month, day)


def _month_day(m: re.Match[str], today: date) -> date | None:
    nums = _nums(m, "m", "d")
    if nums is None:
        return None
    return _next_occurrence(nums[0], nums[1], today)


_rule(r"(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})[日号]?")(_full_date)
_rule(rf"(?P<y>{_NUM})年(?P<m>{_NUM})月(?P<d>{_NUM})[日号]?")(_full_date)
_rule(rf"(?P<m>{_NUM})月(?P<d>{_NUM})[日号]?")(_month_day)
_rule(r"(?P<m>[0-9]{1,2})[-/](?P<d>[0-9]{1,2})")(_month_day)


@_rule(rf"(?P<which>本月|这个月|这月|当月|下月|下个月)?(?P<d>{_NUM})[日号]")
def _day_of_month(m: re.Match[str], today: date) -> date | None:
    day = _to_int(m["d"])
    if day is None:
        return None
    if not 1 <= day <= 31:
        raise DateError(f"日期不存在：没有{day}日")
    which = m["which"]
    if which is None:
        if day >= today.day:
            year, month = today.year, today.month
        else:
            year, month = _next_month(today)
    elif which.startswith("下"):
        year, month = _next_month(today)
    else:
        year, month = today.year, today.month
    return _make_date(year, month, day)


_SIMPLE_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}


@_rule(r"(?P<w>今天|今日|明天|明日|后天|大后天)")
def _named_day(m: re.Match[str], today: date) -> date | None:
    return _add_days(today, _SIMPLE_DAYS[m["w"]])


@_rule(r"(?P<which>今年|明年|后年)?(?:年)?(?:底|末)")
def _year_end(m: re.Match[str], today: date) -> date | None:
    offset = {None: 0, "今年": 0, "明年": 1, "后年": 2}[m["which"]]
    if m["which"] is None and not m[0].startswith("年"):
        return None  # a bare "底" is not a date
    year = today.year + offset
    if year > 9999:
        raise _out_of_range()
    return date(year, 12, 31)


@_rule(r"(?P<which>本月|这个月|这月|当月|下月|下个月|月)(?:底|末)")
def _month_end_rule(m: re.Match[str], today: date) -> date | None:
    if m["which"].startswith("下"):
        return _month_end(*_next_month(today))
    return _month_end(today.year, today.month)


@_rule(rf"(?P<n>{_NUM}|半)(?P<unit>天|日|个?(?:周|星期|礼拜)|个?月|年){_AFTER}")
def _relative(m: re.Match[str], today: date) -> date | None:
    unit = m["unit"]
    if m["n"] == "半":
        if unit == "年":
            return _add_months(today, 6)
        return None
    n = _to_int(m["n"])
    if n is None:
        return None
    if unit in ("天", "日"):
        return _add_days(today, n)
    if unit.endswith(("周", "星期", "礼拜")):
        return _add_days(today, 7 * n)
    if unit.endswith("月"):
        return _add_months(today, n)
    return _add_months(today, 12 * n)


@_rule(r"(?P<which>本|这|这个|下|下个|下下|下下个)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天])")
def _weekday(m: re.Match[str], today: date) -> date | None:
    target = _WEEKDAY_INDEX[m["wd"]]
    which = m["which"]
    if which is None:
        return _add_days(today, (target - today.weekday()) % 7)
    weeks = which.count("下")
    monday = _add_days(today, -today.weekday())
    return _add_days(monday, 7 * weeks + target)


def _parse_compact(expr: str, today: date) -> date | None:
    """Parse a space-free expression. None: not date-like. DateError: date-like but invalid."""
    if not expr or len(expr) > _MAX_EXPR_LEN:
        return None
    note = _WEEKDAY_NOTE.search(expr)
    if note is not None:
        expr = expr[: note.start()]
    expr = _PREFIX.sub("", expr, count=1)
    candidates = [expr]
    stripped = _SUFFIX.sub("", expr, count=1)
    if stripped != expr:
        candidates.append(stripped)
    for candidate in candidates:
        for pattern, handler in _RULES:
            match = pattern.fullmatch(candidate)
            if match is None:
                continue
            value = handler(match, today)
            if value is None:
                continue
            if note is not None and _WEEKDAY_INDEX[note[1]] != value.weekday():
                raise DateError(
                    f"{value.year}年{value.month}月{value.day}日是周{_WEEKDAYS_CN[value.weekday()]}，"
                    f"不是周{note[1]}，请核对日期"
                )
            return value
    return None


def _join(tokens: list[str]) -> str | None:
    """Glue tokens without spaces, refusing to merge two numbers ("12 31")."""
    for left, right in pairwise(tokens):
        if left[-1] in _DIGITISH and right[0] in _DIGITISH:
            return None
    return "".join(tokens)


# --------------------------------------------------------------------------- public API


def parse_date(text: str, *, today: date) -> date:
    """Parse the whole of `text` as a date expression; raise DateError otherwise."""
    tokens = split_args(text)
    if not tokens:
        raise DateError(f"请填写日期，例如 {today.year}-12-31 或 12月31日")
    shown = " ".join(tokens[:_MAX_TOKENS])
    if len(tokens) > _MAX_TOKENS:
        raise _unrecognized(shown, today)
    expr = _join(tokens)
    value = None if expr is None else _parse_compact(expr, today)
    if value is None:
        raise _unrecognized(shown, today)
    return value


def parse_leading_date(text: str, *, today: date) -> DateParse | None:
    """Find a date expression at the start of `text` (e.g. "12月31日 征兵体检").

    The longest run of up to six leading tokens that forms a date wins; `consumed`
    counts tokens of `split_args(text)`.  Returns None when the start of `text` is
    not date-like; raises DateError when it looks like a date that does not exist.
    """
    tokens = split_args(text)[:_MAX_TOKENS]
    error: DateError | None = None
    for k in range(len(tokens), 0, -1):
        expr = _join(tokens[:k])
        if expr is None:
            continue
        try:
            value = _parse_compact(expr, today)
        except DateError as exc:
            error = error or exc
            continue
        if value is not None:
            return DateParse(value=value, consumed=k)
    if error is not None:
        raise error
    return None


def _years_cn(n: int) -> str:
    names = {1: "一", 2: "两", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九", 10: "十"}
    return names.get(n, str(n))


def check_end_date(value: date, *, today: date, max_years: int = 2) -> None:
    """Raise DateError if `value` is before `today` or more than `max_years` years ahead."""
    if value < today:
        raise DateError(
            f"截止日期 {format_date_cn(value)} 是过去的日期，不能早于今天 {format_date_cn(today)}"
        )
    limit = _add_years(today, max_years)
    if value > limit:
        raise DateError(
            f"截止日期 {format_date_cn(value)} 超过{_years_cn(max_years)}年，"
            f"最晚只能到 {format_date_cn(limit)}"
        )


def format_date_cn(value: date) -> str:
    """Format as "2026-12-31（周四）"."""
    return f"{value.isoformat()}（周{_WEEKDAYS_CN[value.weekday()]}）"
