"""Infer a group's kind and end date from its name, for groups nobody registered.

Names are free text typed on phones: full-width digits, emoji, zero-width joiners, Chinese
numerals. Everything is normalised first and every date is built defensively, so inference
never raises; an unreadable name simply yields no inference.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from chinese_calendar import constants as _cc

from policies.model import Kind, NameInference
from policies.rules import Rules

__all__ = ["NameInference", "infer_from_name", "normalise"]

_CN_DIGIT = {
    "〇": 0,
    "零": 0,
    "○": 0,
    "o": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUM = {
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "十一": 11,
    "十二": 12,
}
_NUMERAL_CHARS = set("〇零一二三四五六七八九十两")
# 十一 / 五一 must not eat 十一月, 第十一届, 十一期 … but 五一期间 is the holiday.
_NOT_AFTER_NUMERAL = r"(?![月日号届次五年〇零一二三四五六七八九十0-9]|期(?!间))"

# Precedence of time expressions: the more specific one decides the end date.
_R_DATE, _R_MONTH, _R_EVENT, _R_HOLIDAY, _R_QUARTER, _R_PERIOD = range(6)

# A trailing day range ("11月24日-26日", "3月1日至5日") extends the date to its last day.
_DAY_RANGE = r"(?:[-~至到]([0-9]{1,2})[日号])?"
_RE_FULL_DATE = re.compile(
    r"(?<![0-9])(20[0-9]{2})[年./\-]([0-9]{1,2})[月./\-]([0-9]{1,2})[日号]?" + _DAY_RANGE
)
# "25.10.1": a two-digit year in a dotted date.
_RE_DOT_DATE_YY = re.compile(r"(?<![0-9.])([0-9]{2})\.([0-9]{1,2})\.([0-9]{1,2})(?![0-9.])")
# "2025.6", "2025/9", "2025-6月": year and month without a day.
_RE_YEAR_MONTH = re.compile(r"(?<![0-9])(20[0-9]{2})[./\-](1[0-2]|0?[1-9])(?![0-9])(?:月份?)?")
# A year followed by 级/届 is a cohort (2024级新生, 2018届同学), not a time expression.
_RE_YEAR4 = re.compile(r"(?<![0-9])(20[0-9]{2})(?![0-9级届])(?:年度|年)?")
_RE_YEAR_CN = re.compile(r"([〇零○o一二三四五六七八九]{4})年")
_RE_YEAR2 = re.compile(r"(?<![0-9])([0-9]{2})(?:年度|年)")
_RE_MONTH_DAY = re.compile(r"(?<![0-9])([0-9]{1,2})月([0-9]{1,2})[日号]" + _DAY_RANGE)
# "11.15", "7·20" (the middle dot is how disasters and events are named).
_RE_DOT_DATE = re.compile(r"(?<![0-9.·・])([0-9]{1,2})[.·・]([0-9]{1,2})(?![0-9.·・])")
_EXPLICIT_TEMPORARY = "临时"
# A task word that names a standing unit: 征兵办, 防汛抗旱指挥部办公室, 审计局, 防汛物资仓库.
_UNIT_SUFFIX = r"(?:物资)?(?:办公室|办(?![理法结件好事])|局|中心|所(?!有)|室|科|股|仓库|储备库)"
_RE_MONTH = re.compile(r"(?<![0-9])([0-9]{1,2})月份?")
_RE_MONTH_CN = re.compile(r"(?<![一二三四五六七八九十第])(十[一二]|[一二三四五六七八九十])月份?")
_RE_QUARTER = re.compile(r"第?([1-4一二三四])季度|(?<![a-z0-9])q([1-4])(?![0-9])")


@dataclass(frozen=True, slots=True)
class _Spec:
    """An end date candidate: fixed, or month/day in the name's (or reference) year."""

    rank: int
    text: str
    pos: int
    fixed: date | None = None
    month: int = 12
    day: int = 31
    next_year: bool = False
    holiday: str | None = None
    before: bool = False


def normalise(topic: str) -> str:
    """NFKC, drop format characters (zero-width etc.), whitespace and controls; lower-case."""
    text = unicodedata.normalize("NFKC", topic)
    return "".join(
        ch.lower() for ch in text if unicodedata.category(ch)[0] not in ("C", "Z") and not ch.isspace()
    )


def _clamped(year: int, month: int, day: int) -> date | None:
    if not (1 <= year <= 9999 and 1 <= month <= 12 and day >= 1):
        return None
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _add_days(day: date, n: int) -> date | None:
    try:
        return day + timedelta(days=n)
    except OverflowError:
        return None


@lru_cache(maxsize=64)
def _holiday_span(year: int, name: str) -> tuple[date, date] | None:
    """First and last official day off of a named holiday in a year, from chinese-calendar."""
    days = [d for d, n in _cc.holidays.items() if n == name and d.year == year]
    if name == "New Year's Day":
        # New Year's Day breaks may start on Dec 30/31 of the previous year.
        days += [d for d, n in _cc.holidays.items() if n == name and d.year == year - 1 and d.month == 12]
    if not days:
        return None
    return min(days), max(days)


def _last_day(day: int, range_end: str | None) -> int:
    """The day a date (or day range such as 24日-26日) ends on."""
    if range_end is not None and day < int(range_end) <= 31:
        return int(range_end)
    return day


def _md(text: str) -> tuple[int, int]:
    m, d = text.split("-")
    return int(m), int(d)


class _Masked:
    """The normalised name with consumed time expressions blanked, so they match once."""

    def __init__(self, text: str) -> None:
        self.chars = list(text)

    def __str__(self) -> str:
        return "".join(self.chars)

    def take(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        for m in list(pattern.finditer(str(self))):
            if "\0" in m.group(0):
                continue
            self.chars[m.start() : m.end()] = ["\0"] * (m.end() - m.start())
            yield m


@lru_cache(maxsize=16)
def _word_pattern(words: tuple[str, ...], guard: bool) -> re.Pattern[str] | None:
    if not words:
        return None
    alts = []
    for w in sorted(words, key=len, reverse=True):
        alt = re.escape(w)
        if guard and set(w) <= _NUMERAL_CHARS:
            # 十一 (National Day) must not eat 十一月, 第十一届 …
            alt = f"(?<![一二三四五六七八九十〇零第0-9]){alt}{_NOT_AFTER_NUMERAL}"
        alts.append(alt)
    # "春节前" ends the day before the holiday; "元旦前后" is around it, i.e. the holiday itself.
    return re.compile("(" + "|".join(alts) + ")(前(?!后))?")


def _two_digit_ok(value: int, today: date, rules: Rules) -> bool:
    return rules.names.two_digit_year_min <= value <= (today.year % 100) + 5


def _extract(norm: str, today: date, rules: Rules) -> tuple[list[int], list[_Spec], list[tuple[int, str]]]:
    """Years, end-date candidates and the (position, text) of every time expression."""
    names = rules.names
    masked = _Masked(norm)
    years: list[int] = []
    specs: list[_Spec] = []
    found: list[tuple[int, str]] = []

    for m in masked.take(_RE_FULL_DATE):
        day = _last_day(int(m.group(3)), m.group(4))
        d = _clamped(int(m.group(1)), int(m.group(2)), day)
        if d is not None and day <= 31:
            years.append(d.year)
            specs.append(_Spec(_R_DATE, m.group(0), m.start(), fixed=d))
            found.append((m.start(), m.group(0)))
    for m in masked.take(_RE_DOT_DATE_YY):
        yy, mo, dd = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if _two_digit_ok(yy, today, rules) and 1 <= mo <= 12 and 1 <= dd <= 31:
            d = _clamped(2000 + yy, mo, dd)
            if d is not None:
                years.append(d.year)
                specs.append(_Spec(_R_DATE, m.group(0), m.start(), fixed=d))
                found.append((m.start(), m.group(0)))
    for m in masked.take(_RE_YEAR_MONTH):
        d = _clamped(int(m.group(1)), int(m.group(2)), 31)
        if d is not None:
            years.append(d.year)
            specs.append(_Spec(_R_MONTH, m.group(0), m.start(), fixed=d))
            found.append((m.start(), m.group(0)))

    # Events before bare years: 七普/三调-like fixed events and "秋季征兵" must win over 秋季.
    ev = _word_pattern(tuple(names.events), False)
    if ev is not None:
        last_end = -1
        for m in masked.take(ev):
            word = m.group(1)
            if m.start() == last_end:
                # 三夏秸秆禁烧: the first event qualifies the one right after it, which adds no end.
                found.append((m.start(), word))
                last_end = m.end()
                continue
            last_end = m.end()
            when = names.events[word]
            if len(when) == 10:
                y, mo, dd = (int(x) for x in when.split("-"))
                specs.append(_Spec(_R_EVENT, word, m.start(), fixed=_clamped(y, mo, dd)))
            else:
                mo, dd = _md(when)
                specs.append(_Spec(_R_EVENT, word, m.start(), month=mo, day=dd))
            found.append((m.start(), word))

    for m in masked.take(_RE_YEAR4):
        years.append(int(m.group(1)))
        found.append((m.start(), m.group(0)))
    for m in masked.take(_RE_YEAR_CN):
        y = 0
        for ch in m.group(1):
            y = y * 10 + _CN_DIGIT[ch]
        if 2000 <= y <= 2099:
            years.append(y)
            found.append((m.start(), m.group(0)))
    for m in masked.take(_RE_YEAR2):
        v = int(m.group(1))
        if _two_digit_ok(v, today, rules):
            years.append(2000 + v)
            found.append((m.start(), m.group(0)))

    for pattern in (_RE_MONTH_DAY, _RE_DOT_DATE):
        for m in masked.take(pattern):
            mo = int(m.group(1))
            dd = _last_day(int(m.group(2)), m.group(3) if pattern is _RE_MONTH_DAY else None)
            if 1 <= mo <= 12 and 1 <= dd <= 31:
                specs.append(_Spec(_R_DATE, m.group(0), m.start(), month=mo, day=dd))
                found.append((m.start(), m.group(0)))
    for m in masked.take(_RE_MONTH):
        mo = int(m.group(1))
        if 1 <= mo <= 12:
            specs.append(_Spec(_R_MONTH, m.group(0), m.start(), month=mo, day=31))
            found.append((m.start(), m.group(0)))
    for m in masked.take(_RE_MONTH_CN):
        mo = _CN_NUM[m.group(1)]
        specs.append(_Spec(_R_MONTH, m.group(0), m.start(), month=mo, day=31))
        found.append((m.start(), m.group(0)))
    for m in masked.take(_RE_QUARTER):
        q = m.group(1) or m.group(2)
        n = _CN_NUM.get(q) or int(q)
        specs.append(_Spec(_R_QUARTER, m.group(0), m.start(), month=n * 3, day=31))
        found.append((m.start(), m.group(0)))

    hol = _word_pattern(tuple(names.holidays), True)
    if hol is not None:
        for m in masked.take(hol):
            word = m.group(1)
            h = names.holidays[word]
            before = m.group(2) is not None
            mo, dd = _md(h.start if before else h.end)
            specs.append(
                _Spec(_R_HOLIDAY, m.group(0), m.start(), month=mo, day=dd, holiday=h.calendar, before=before)
            )
            found.append((m.start(), m.group(0)))

    per = _word_pattern(tuple(names.periods), False)
    if per is not None:
        for m in masked.take(per):
            word = m.group(1)
            p = names.periods[word]
            mo, dd = _md(p.end)
            specs.append(_Spec(_R_PERIOD, word, m.start(), month=mo, day=dd, next_year=p.next_year))
            found.append((m.start(), word))
    return years, specs, found


def _resolve(spec: _Spec, year: int, span_end: int | None = None) -> date | None:
    if spec.fixed is not None:
        return spec.fixed
    if spec.next_year:
        # A season running into the next year ends in year + 1, or in the later year of a span
        # such as "2025-2026年冬春".
        y = span_end if span_end is not None else year + 1
    else:
        y = year
    if spec.holiday is not None:
        span = _holiday_span(y, spec.holiday)
        if span is not None:
            return _add_days(span[0], -1) if spec.before else span[1]
    d = _clamped(y, spec.month, spec.day)
    if d is not None and spec.before:
        return _add_days(d, -1)
    return d


def _end_from_time(years: list[int], specs: list[_Spec], anchor: date) -> date | None:
    """The inferred end: most specific expression wins; a year alone means its Dec 31."""
    if specs:
        best = min(s.rank for s in specs)
        chosen = [s for s in specs if s.rank == best]
        if years:
            last = max(years)
            span_end = last if last - 1 in years else None
            ends = [_resolve(s, last, span_end) for s in chosen]
        else:
            # No year in the name: the first occurrence ending on/after the reference day.
            ends = []
            for s in chosen:
                pick: date | None = s.fixed
                for y in (anchor.year - 1, anchor.year, anchor.year + 1):
                    if pick is not None:
                        break
                    d = _resolve(s, y)
                    if d is not None and d >= anchor:
                        pick = d
                        break
                ends.append(pick)
        real = [d for d in ends if d is not None]
        return max(real) if real else None
    if years:
        return _clamped(max(years), 12, 31)
    return None


@lru_cache(maxsize=16)
def _unit_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(f"(?:{alts})+(?={_UNIT_SUFFIX})")


def _mask_units(norm: str, words: tuple[str, ...]) -> str:
    """Blank task words that are part of a unit's name (征兵办, 审计局), so they do not count."""
    pattern = _unit_pattern(words)
    if pattern is None:
        return norm
    return pattern.sub(lambda m: "\0" * len(m.group(0)), norm)


def _letters(norm: str) -> str:
    """Only letters and digits: standing patterns ignore emoji and brackets (🌾大刘村🌾, 【东街社区】)."""
    return "".join(ch for ch in norm if unicodedata.category(ch)[0] in ("L", "N"))


def _find_words(norm: str, words: list[str] | tuple[str, ...]) -> list[tuple[int, str]]:
    hits = [(norm.find(w), w) for w in words if w and w in norm]
    # Report the longest words only: 专项整治 rather than 专项 + 专项整治.
    return sorted((p, w) for p, w in hits if not any(w != o and w in o for _, o in hits))


def _task_kind(task: list[tuple[int, str]], rules: Rules) -> Kind:
    """Kind from the task words: an explicit 临时 wins; else any phase word makes it a phase."""
    words = rules.names.words
    if any(w == _EXPLICIT_TEMPORARY for _, w in task):
        return "temporary"
    return "phase" if any(words[w].kind == "phase" for _, w in task) else "temporary"


def infer_from_name(topic: str, *, today: date, rules: Rules, since: date | None = None) -> NameInference:
    """Guess kind and end date from a group name.

    `since` is the reference day (created_on, else enrolment day). It anchors names without a
    year (国庆值班群 → the first National Day ending on/after `since`) and, for task words with
    no time expression at all, gives end = since + the word's window. Without `since`, year-less
    names anchor on `today` and windowed ends are left None (nothing to count from).
    """
    norm = normalise(topic)
    if not norm:
        return NameInference(None, None, (), False)
    names = rules.names
    anchor = since or today

    task_text = _mask_units(norm, tuple(names.words) + tuple(names.events))
    years, specs, time_found = _extract(task_text, today, rules)
    has_time = bool(years or specs)
    task = _find_words(task_text, list(names.words))
    # Named campaigns (七普, 五经普, 秸秆禁烧) are phase tasks even when not listed as words.
    campaigns = _find_words(task_text, list(names.events))
    standing = _find_words(norm, names.standing.words)
    timed = _find_words(norm, names.standing.timed_words)
    letters = _letters(norm)
    pattern_hit = any(re.search(p, letters) for p in names.standing.patterns)
    standing_hint = bool(standing or timed or pattern_hit)

    kind: Kind | None
    end: date | None = None
    source = ""
    if task:
        kind = _task_kind(task, rules)
    elif campaigns:
        kind = "phase"
    elif timed and has_time:
        kind = "temporary"
    elif standing_hint:
        kind = "standing"
    elif has_time:
        # A bare day or holiday (9月28日观摩推进会, 国庆安保) is an occasion; months, quarters,
        # seasons and years are stages of work.
        best = min((sp.rank for sp in specs), default=_R_PERIOD + 1)
        kind = "temporary" if best in (_R_DATE, _R_HOLIDAY) else "phase"
    else:
        kind = None

    if kind in ("temporary", "phase"):
        end = _end_from_time(years, specs, anchor)
        if end is not None:
            source = "date"
        elif task and since is not None:
            window = max(names.words[w].window_days for _, w in task)
            end = _add_days(since, window)
            source = "window" if end is not None else ""

    fired: list[tuple[int, str]] = list(time_found)
    if kind == "standing":
        fired += standing + timed
    else:
        fired += task + timed
    words: list[str] = []
    for _, w in sorted(fired):
        if w not in words and not any(w != o and w in o for _, o in fired):
            words.append(w)
    return NameInference(kind, end, tuple(words), standing_hint, source)
