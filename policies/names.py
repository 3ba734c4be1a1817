"""Infer a group's kind and end date from its name, for groups nobody registered.

Names are free text typed on phones: full-width digits, emoji, zero-width joiners, Chinese
numerals. Everything is normalised first and every date is built defensively, so inference
never raises; an unreadable name simply yields no inference.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple

from chinese_calendar import constants as _cc

from policies.model import Kind, NameInference
from policies.rules import Rules

__all__ = ["NameInference", "ParsedName", "infer_from_name", "normalise", "parse_name", "resolve"]

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
# Pre-screens: most names hold no time expression, so a pattern is only run when the text holds
# what every match of it needs. Every match of a time pattern holds a time cue; of the patterns
# after the bare years, a late cue.
_RE_TIME_CUE = re.compile(r"20[0-9]{2}|[年月.·・季q]")
_RE_LATE_CUE = re.compile(r"[年月.·・季q]")
_RE_ASCII_DIGIT = re.compile(r"[0-9]")
_RE_FULL_DATE_SEP = re.compile(r"[月./\-]")
_RE_YEAR_MONTH_SEP = re.compile(r"[./\-]")
_RE_DAY_MARK = re.compile(r"[日号]")
_RE_DOT_SEP = re.compile(r"[.·・]")
_RE_UNIT_SUFFIX = re.compile(_UNIT_SUFFIX)


class _Spec(NamedTuple):
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


class _CharMap(dict[int, str]):
    """A str.translate table filled on first sight of a character: the per-character Unicode
    lookups run once per distinct character instead of once per character of every name."""

    # Bounds memory if names carry a huge variety of characters.
    _MAX = 1 << 16

    def __init__(self, fn: Callable[[str], str]) -> None:
        super().__init__()
        self._fn = fn

    def __missing__(self, cp: int) -> str:
        if len(self) >= self._MAX:
            self.clear()
        out = self[cp] = self._fn(chr(cp))
        return out


def _norm_char(ch: str) -> str:
    # Per character, as before: "".join of per-character lower() (not str.lower(), which is
    # context-sensitive for final sigma).
    return "" if unicodedata.category(ch)[0] in ("C", "Z") or ch.isspace() else ch.lower()


_NORM_MAP = _CharMap(_norm_char)
_LETTER_MAP = _CharMap(lambda ch: ch if unicodedata.category(ch)[0] in ("L", "N") else "")
# Most names are letters and digits only, which str.isalnum tells at C speed. That
# isalnum() == category L* or N* (never C*, Z* or a space) was checked over every code point of
# Unicode 14.0 (Python 3.11); other versions take the per-character path.
_ALNUM_IS_LN = unicodedata.unidata_version == "14.0.0"


def normalise(topic: str) -> str:
    """NFKC, drop format characters (zero-width etc.), whitespace and controls; lower-case."""
    text = unicodedata.normalize("NFKC", topic)
    # Nothing to drop; str.lower() equals the per-character lower() but for a final sigma.
    if _ALNUM_IS_LN and text.isalnum() and "Σ" not in text:
        return text.lower()
    return text.translate(_NORM_MAP)


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _clamped(year: int, month: int, day: int) -> date | None:
    if not (1 <= year <= 9999 and 1 <= month <= 12 and day >= 1):
        return None
    if day > 28:  # calendar.monthrange also works out the weekday: slower
        day = min(day, 29 if month == 2 and calendar.isleap(year) else _MONTH_DAYS[month])
    return date(year, month, day)


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
        self.text = text

    def take(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        """Matches not overlapping earlier ones; blanks them. The text is rebuilt only on a hit."""
        text = self.text
        hits = [m for m in pattern.finditer(text) if "\0" not in m.group(0)]
        if len(hits) == 1:
            start, end = hits[0].span()
            self.text = text[:start] + "\0" * (end - start) + text[end:]
        elif hits:
            parts: list[str] = []
            last = 0
            for m in hits:
                start, end = m.span()
                parts += (text[last:start], "\0" * (end - start))
                last = end
            parts.append(text[last:])
            self.text = "".join(parts)
        return hits


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


def _counts(words: tuple[str, ...]) -> dict[str, int]:
    """Word -> how often it is listed (a repeated word is reported as often)."""
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    return counts


def _within(words: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Word -> the other listed words containing it, for the words some other word contains."""
    out: dict[str, frozenset[str]] = {}
    for w in set(words):
        longer = frozenset(o for o in words if o != w and w in o)
        if longer:
            out[w] = longer
    return out


class _Lexicon:
    """The name rules' word lists, prepared once per distinct lists.

    Every lookup starts from the few listed words that occur in the name, found through an index
    by first character: a word can only occur where its first character does.
    """

    __slots__ = (
        "blank_words",
        "events",
        "events_re",
        "events_within",
        "firsts",
        "holidays",
        "holidays_re",
        "index",
        "patterns",
        "periods",
        "periods_re",
        "standing",
        "standing_within",
        "time_empty",
        "time_words",
        "timed",
        "timed_within",
        "unit_empty",
        "unit_rank",
        "unit_words",
        "words",
        "words_within",
    )

    def __init__(
        self,
        words: tuple[str, ...],
        events: tuple[str, ...],
        holidays: tuple[str, ...],
        periods: tuple[str, ...],
        standing: tuple[str, ...],
        timed: tuple[str, ...],
        patterns: tuple[str, ...],
    ) -> None:
        self.words = _counts(words)
        self.events = _counts(events)
        self.holidays = _counts(holidays)
        self.periods = _counts(periods)
        self.standing = _counts(standing)
        self.timed = _counts(timed)
        self.words_within = _within(words)
        self.events_within = _within(events)
        self.standing_within = _within(standing)
        self.timed_within = _within(timed)
        index: dict[str, list[str]] = {}
        for w in dict.fromkeys(words + events + holidays + periods + standing + timed):
            if w:
                index.setdefault(w[0], []).append(w)
        self.index = {ch: tuple(ws) for ch, ws in index.items()}
        self.firsts = frozenset(index)
        # A word holding a NUL can only occur where the name was blanked, never in norm.
        self.blank_words = [w for ws in index.values() for w in ws if "\0" in w]
        self.events_re = _word_pattern(events, False)
        self.holidays_re = _word_pattern(holidays, True)
        self.periods_re = _word_pattern(periods, False)
        self.time_words = frozenset(events + holidays + periods)
        self.time_empty = "" in self.time_words
        self.unit_words = words + events
        self.unit_empty = "" in self.unit_words
        # The unit regex's alternation order: longest first, stable. A repeated word only retries
        # a branch that already failed, so repeats are dropped.
        order = sorted(dict.fromkeys(self.unit_words), key=len, reverse=True)
        self.unit_rank = {w: i for i, w in enumerate(order)}
        self.patterns = tuple(re.compile(p) for p in patterns)

    def present(self, norm: str) -> list[str]:
        """The distinct non-empty listed words that can occur in norm or in norm partly blanked."""
        found = [w for ch in self.firsts.intersection(norm) for w in self.index[ch] if w in norm]
        return found + self.blank_words if self.blank_words else found


@lru_cache(maxsize=8)
def _lexicon_of(lists: tuple[tuple[str, ...], ...]) -> _Lexicon:
    return _Lexicon(*lists)


_last_lexicon: tuple[list[list[str]], _Lexicon] | None = None


def _lexicon(rules: Rules) -> _Lexicon:
    # Keyed on the word lists' contents, not on the rules object, whose dicts and lists could be
    # edited in place. Comparing them with copies of the last call's lists (element by element,
    # identity first) is cheaper than hashing them for the lru_cache.
    global _last_lexicon
    names = rules.names
    standing = names.standing
    last = _last_lexicon
    if last is not None:
        seen, lex = last
        if (
            list(names.words) == seen[0]
            and list(names.events) == seen[1]
            and list(names.holidays) == seen[2]
            and list(names.periods) == seen[3]
            and standing.words == seen[4]
            and standing.timed_words == seen[5]
            and standing.patterns == seen[6]
        ):
            return lex
    lists = [
        list(names.words),
        list(names.events),
        list(names.holidays),
        list(names.periods),
        list(standing.words),
        list(standing.timed_words),
        list(standing.patterns),
    ]
    lex = _lexicon_of(tuple(tuple(x) for x in lists))
    _last_lexicon = (lists, lex)
    return lex


def _find(
    text: str, present: list[str], counts: dict[str, int], within: dict[str, frozenset[str]]
) -> list[tuple[int, str]]:
    """(first position, word) of the longest listed words in text; present ⊇ those in text.

    within: listed word -> the other listed words containing it (for words in some).
    """
    hits: list[tuple[int, str]] = []
    for w in present:
        n = counts.get(w)
        if n and (p := text.find(w)) >= 0:
            if n == 1:
                hits.append((p, w))
            else:
                hits += [(p, w)] * n
    if len(hits) > 1:
        # Report the longest words only: 专项整治 rather than 专项 + 专项整治.
        found = {w for _, w in hits}
        hits = sorted(h for h in hits if found.isdisjoint(within.get(h[1], ())))
    return hits


def _take_words(
    masked: _Masked, pattern: re.Pattern[str] | None, present: list[str], counts: dict[str, int]
) -> list[re.Match[str]]:
    # A match taken is a listed word without a blank, so it occurs in the masked text; but the
    # empty word matches anywhere.
    if pattern is None or ("" not in counts and not any(w in masked.text for w in present if w in counts)):
        return []
    return masked.take(pattern)


def _two_digit_ok(value: int, today: date, rules: Rules) -> bool:
    return rules.names.two_digit_year_min <= value <= (today.year % 100) + 5


def _extract(
    norm: str, present: list[str], today: date, rules: Rules, lex: _Lexicon
) -> tuple[list[int], list[_Spec], list[tuple[int, str]]]:
    """Years, end-date candidates and the (position, text) of every time expression.

    present ⊇ the listed words in norm. A pattern is skipped when the text left unmasked lacks
    a piece every match of it holds (a match never includes a blank): it could not match.
    """
    names = rules.names
    years: list[int] = []
    specs: list[_Spec] = []
    found: list[tuple[int, str]] = []
    present = [w for w in present if w in lex.time_words]
    listed = bool(present) or lex.time_empty
    if not (listed or _RE_TIME_CUE.search(norm)):
        return years, specs, found
    digit = _RE_ASCII_DIGIT.search(norm) is not None
    masked = _Masked(norm)

    t = masked.text
    for m in masked.take(_RE_FULL_DATE) if digit and "20" in t and _RE_FULL_DATE_SEP.search(t) else ():
        day = _last_day(int(m.group(3)), m.group(4))
        d = _clamped(int(m.group(1)), int(m.group(2)), day)
        if d is not None and day <= 31:
            years.append(d.year)
            specs.append(_Spec(_R_DATE, m.group(0), m.start(), fixed=d))
            found.append((m.start(), m.group(0)))
    t = masked.text
    for m in masked.take(_RE_DOT_DATE_YY) if digit and "." in t else ():
        yy, mo, dd = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if _two_digit_ok(yy, today, rules) and 1 <= mo <= 12 and 1 <= dd <= 31:
            d = _clamped(2000 + yy, mo, dd)
            if d is not None:
                years.append(d.year)
                specs.append(_Spec(_R_DATE, m.group(0), m.start(), fixed=d))
                found.append((m.start(), m.group(0)))
    t = masked.text
    for m in masked.take(_RE_YEAR_MONTH) if digit and "20" in t and _RE_YEAR_MONTH_SEP.search(t) else ():
        d = _clamped(int(m.group(1)), int(m.group(2)), 31)
        if d is not None:
            years.append(d.year)
            specs.append(_Spec(_R_MONTH, m.group(0), m.start(), fixed=d))
            found.append((m.start(), m.group(0)))

    # Events before bare years: 七普/三调-like fixed events and "秋季征兵" must win over 秋季.
    last_end = -1
    for m in _take_words(masked, lex.events_re, present, lex.events) if listed else ():
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

    t = masked.text
    for m in masked.take(_RE_YEAR4) if digit and "20" in t else ():
        years.append(int(m.group(1)))
        found.append((m.start(), m.group(0)))
    if _RE_LATE_CUE.search(masked.text):
        t = masked.text
        for m in masked.take(_RE_YEAR_CN) if "年" in t else ():
            y = 0
            for ch in m.group(1):
                y = y * 10 + _CN_DIGIT[ch]
            if 2000 <= y <= 2099:
                years.append(y)
                found.append((m.start(), m.group(0)))
        t = masked.text
        for m in masked.take(_RE_YEAR2) if digit and "年" in t else ():
            v = int(m.group(1))
            if _two_digit_ok(v, today, rules):
                years.append(2000 + v)
                found.append((m.start(), m.group(0)))

        for pattern in (_RE_MONTH_DAY, _RE_DOT_DATE) if digit else ():
            t = masked.text
            if pattern is _RE_MONTH_DAY and ("月" not in t or not _RE_DAY_MARK.search(t)):
                continue
            if pattern is _RE_DOT_DATE and not _RE_DOT_SEP.search(t):
                continue
            for m in masked.take(pattern):
                mo = int(m.group(1))
                dd = _last_day(int(m.group(2)), m.group(3) if pattern is _RE_MONTH_DAY else None)
                if 1 <= mo <= 12 and 1 <= dd <= 31:
                    specs.append(_Spec(_R_DATE, m.group(0), m.start(), month=mo, day=dd))
                    found.append((m.start(), m.group(0)))
        t = masked.text
        for m in masked.take(_RE_MONTH) if digit and "月" in t else ():
            mo = int(m.group(1))
            if 1 <= mo <= 12:
                specs.append(_Spec(_R_MONTH, m.group(0), m.start(), month=mo, day=31))
                found.append((m.start(), m.group(0)))
        for m in masked.take(_RE_MONTH_CN) if "月" in masked.text else ():
            mo = _CN_NUM[m.group(1)]
            specs.append(_Spec(_R_MONTH, m.group(0), m.start(), month=mo, day=31))
            found.append((m.start(), m.group(0)))
        t = masked.text
        for m in masked.take(_RE_QUARTER) if "季度" in t or "q" in t else ():
            q = m.group(1) or m.group(2)
            n = _CN_NUM.get(q) or int(q)
            specs.append(_Spec(_R_QUARTER, m.group(0), m.start(), month=n * 3, day=31))
            found.append((m.start(), m.group(0)))

    for m in _take_words(masked, lex.holidays_re, present, lex.holidays) if listed else ():
        word = m.group(1)
        h = names.holidays[word]
        before = m.group(2) is not None
        mo, dd = _md(h.start if before else h.end)
        specs.append(
            _Spec(_R_HOLIDAY, m.group(0), m.start(), month=mo, day=dd, holiday=h.calendar, before=before)
        )
        found.append((m.start(), m.group(0)))

    for m in _take_words(masked, lex.periods_re, present, lex.periods) if listed else ():
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


def _end_from_time(years: Sequence[int], specs: Sequence[_Spec], anchor: date) -> date | None:
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


def _mask_units(norm: str, present: list[str], lex: _Lexicon) -> str:
    """Blank task words that are part of a unit's name (征兵办, 审计局), so they do not count.

    The result of re.sub of (?:w1|w2|…)+(?=_UNIT_SUFFIX), words longest first, computed without
    that regex: it backtracks exponentially on a repeated word (防汛防汛…, listed both as a word
    and an event). present ⊇ the listed words in norm.
    """
    # The match must be followed by a unit suffix.
    if not lex.unit_words or not _RE_UNIT_SUFFIX.search(norm):
        return norm
    if lex.unit_empty:  # matches anywhere; never in validated rules
        alts = "|".join(re.escape(w) for w in sorted(lex.unit_words, key=len, reverse=True))
        return re.sub(f"(?:{alts})+(?={_UNIT_SUFFIX})", lambda m: "\0" * len(m.group(0)), norm)
    rank = lex.unit_rank
    listed = [w for w in present if w in rank]
    if not listed:
        return norm
    # Where each word occurs; per position in alternation order.
    starts: dict[int, list[str]] = {}
    for w in sorted(listed, key=rank.__getitem__):
        p = norm.find(w)
        while p >= 0:
            starts.setdefault(p, []).append(w)
            p = norm.find(w, p + 1)
    if not starts:
        return norm

    def suffix_at(j: int) -> int | None:
        return j if _RE_UNIT_SUFFIX.match(norm, j) else None

    # The backtracking search, right to left: first[j] is where a match starting with a word at
    # j ends; after[j] where it ends once a word ended at j (greedy: more words first, then the
    # suffix lookahead). None: no match.
    first: dict[int, int | None] = {}
    after: dict[int, int | None] = {}
    for j in sorted(starts, reverse=True):
        end: int | None = None
        for w in starts[j]:
            k = j + len(w)
            end = after[k] if k in after else suffix_at(k)
            if end is not None:
                break
        first[j] = end
        after[j] = end if end is not None else suffix_at(j)
    # re.sub: leftmost match, then on from its end.
    parts: list[str] = []
    last = 0
    for j in sorted(first):
        end = first[j]
        if j >= last and end is not None:
            parts += (norm[last:j], "\0" * (end - j))
            last = end
    if not parts:
        return norm
    parts.append(norm[last:])
    return "".join(parts)


def _letters(norm: str) -> str:
    """Only letters and digits: standing patterns ignore emoji and brackets (🌾大刘村🌾, 【东街社区】)."""
    if _ALNUM_IS_LN and norm.isalnum():
        return norm
    return norm.translate(_LETTER_MAP)


def _task_kind(task: list[tuple[int, str]], rules: Rules) -> Kind:
    """Kind from the task words: an explicit 临时 wins; else any phase word makes it a phase."""
    words = rules.names.words
    if any(w == _EXPLICIT_TEMPORARY for _, w in task):
        return "temporary"
    return "phase" if any(words[w].kind == "phase" for _, w in task) else "temporary"


@dataclass(frozen=True, slots=True)
class ParsedName:
    """What a name says whatever the reference day: `resolve` adds the end date."""

    kind: Kind | None
    years: tuple[int, ...]
    specs: tuple[_Spec, ...]
    window_days: int | None  # the longest window of the task words, when there are any
    words: tuple[str, ...]
    standing_hint: bool


_EMPTY = ParsedName(None, (), (), None, (), False)


def parse_name(topic: str, *, today: date, rules: Rules) -> ParsedName:
    """The part of `infer_from_name` that does not depend on `since`: an audit parses each
    distinct name once, however many groups (created on different days) carry it."""
    norm = normalise(topic)
    if not norm:
        return _EMPTY
    names = rules.names
    lex = _lexicon(rules)
    # task_text only blanks characters of norm: words in it are in norm too.
    present = lex.present(norm)

    task_text = _mask_units(norm, present, lex)
    years, specs, time_found = _extract(task_text, present, today, rules, lex)
    has_time = bool(years or specs)
    task = _find(task_text, present, lex.words, lex.words_within)
    standing = _find(norm, present, lex.standing, lex.standing_within)
    timed = _find(norm, present, lex.timed, lex.timed_within)
    # The patterns only matter when no standing word fired.
    standing_hint = bool(standing or timed) or any(p.search(_letters(norm)) for p in lex.patterns)

    kind: Kind | None
    if task:
        kind = _task_kind(task, rules)
    # Named campaigns (七普, 五经普, 秸秆禁烧) are phase tasks even when not listed as words.
    elif _find(task_text, present, lex.events, lex.events_within):
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

    fired: list[tuple[int, str]] = list(time_found)
    if kind == "standing":
        fired += standing + timed
    else:
        fired += task + timed
    words: list[str] = []
    if len(fired) == 1:
        words.append(fired[0][1])
    else:
        for _, w in sorted(fired):
            if w not in words and not any(w != o and w in o for _, o in fired):
                words.append(w)
    window = max(names.words[w].window_days for _, w in task) if task else None
    return ParsedName(kind, tuple(years), tuple(specs), window, tuple(words), standing_hint)


def resolve(parsed: ParsedName, *, today: date, since: date | None = None) -> NameInference:
    """`infer_from_name` from a parse made with the same `today`."""
    kind = parsed.kind
    end: date | None = None
    source = ""
    if kind in ("temporary", "phase"):
        end = _end_from_time(parsed.years, parsed.specs, since or today)
        if end is not None:
            source = "date"
        elif parsed.window_days is not None and since is not None:
            end = _add_days(since, parsed.window_days)
            source = "window" if end is not None else ""
    return NameInference(kind, end, parsed.words, parsed.standing_hint, source)


def infer_from_name(topic: str, *, today: date, rules: Rules, since: date | None = None) -> NameInference:
    """Guess kind and end date from a group name.

    `since` is the reference day (created_on, else enrolment day). It anchors names without a
    year (国庆值班群 → the first National Day ending on/after `since`) and, for task words with
    no time expression at all, gives end = since + the word's window. Without `since`, year-less
    names anchor on `today` and windowed ends are left None (nothing to count from).
    """
    return resolve(parse_name(topic, today=today, rules=rules), today=today, since=since)
