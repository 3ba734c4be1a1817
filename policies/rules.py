"""Rule set: thresholds and name lexicons, loaded from TOML and validated strictly.

The file is data an operator edits, so a mistake must stop startup with the file, the entry
and (when we can find it) the line, rather than silently change what gets flagged.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from policies.tz import check_timezone

DEFAULT_PATH = Path(__file__).with_name("rules.toml")

Days = Annotated[int, Field(ge=1, le=3650)]
Share = Annotated[float, Field(gt=0.0, le=1.0)]
Count = Annotated[int, Field(ge=1, le=1_000_000)]
CalendarName = Literal[
    "New Year's Day",
    "Spring Festival",
    "Tomb-sweeping Day",
    "Labour Day",
    "Dragon Boat Festival",
    "National Day",
    "Mid-autumn Festival",
]

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_FULL_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class RulesError(Exception):
    """An invalid rule file; the message names the file, the entry and the line when known."""


def _check_month_day(value: str) -> str:
    m = _MONTH_DAY.match(value)
    if not m:
        raise ValueError("must be MM-DD")
    # 2000 is a leap year, so 02-29 is accepted (it is clamped to the month's end when used).
    date(2000, int(m.group(1)), int(m.group(2)))
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ExpiryRules(_Section):
    ending_soon_days: Annotated[int, Field(ge=0, le=365)] = 3


class RegistrationRules(_Section):
    unregistered_after_days: Days = 7


class IdleRules(_Section):
    days: Days = 30
    standing_days: Days = 90


class DuplicateRules(_Section):
    jaccard: Annotated[float, Field(ge=0.5, le=1.0)] = 0.8
    min_members: Annotated[int, Field(ge=2, le=10_000)] = 3
    activity_window_days: Days = 30


class AfterHoursRules(_Section):
    share: Share = 0.3
    window_days: Days = 30
    min_messages: Count = 20


class MentionAllRules(_Section):
    window_days: Days = 30
    count: Count = 10
    share: Share = 0.25
    min_messages: Count = 20


class WordRule(_Section):
    kind: Literal["temporary", "phase"]
    window_days: Days


class PeriodRule(_Section):
    end: str
    next_year: bool = False

    @field_validator("end")
    @classmethod
    def _end(cls, v: str) -> str:
        return _check_month_day(v)


class HolidayRule(_Section):
    calendar: CalendarName | None = None
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _md(cls, v: str) -> str:
        return _check_month_day(v)


class StandingRules(_Section):
    words: list[str] = Field(default_factory=list)
    timed_words: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _compile(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"bad regular expression {p!r}: {exc}") from exc
        return v


class NameRules(_Section):
    default_window_days: Days = 60
    two_digit_year_min: Annotated[int, Field(ge=0, le=99)] = 10
    words: dict[str, WordRule] = Field(default_factory=dict)
    events: dict[str, str] = Field(default_factory=dict)
    periods: dict[str, PeriodRule] = Field(default_factory=dict)
    holidays: dict[str, HolidayRule] = Field(default_factory=dict)
    standing: StandingRules = Field(default_factory=StandingRules)

    @field_validator("events")
    @classmethod
    def _events(cls, v: dict[str, str]) -> dict[str, str]:
        for word, when in v.items():
            full = _FULL_DATE.match(when)
            if full:
                try:
                    date(int(full.group(1)), int(full.group(2)), int(full.group(3)))
                except ValueError as exc:
                    raise ValueError(f"{word}: {exc}") from exc
            else:
                try:
                    _check_month_day(when)
                except ValueError as exc:
                    raise ValueError(f"{word}: must be MM-DD or YYYY-MM-DD") from exc
        return v

    @field_validator("words", "events", "periods", "holidays")
    @classmethod
    def _no_empty_words(cls, v: dict[str, Any]) -> dict[str, Any]:
        if any(not k.strip() for k in v):
            raise ValueError("empty word")
        return v


class Rules(_Section):
    """The whole rule set. Defaults equal the packaged rules.toml thresholds."""

    timezone: str = "Asia/Shanghai"
    expiry: ExpiryRules = Field(default_factory=ExpiryRules)
    registration: RegistrationRules = Field(default_factory=RegistrationRules)
    idle: IdleRules = Field(default_factory=IdleRules)
    duplicate: DuplicateRules = Field(default_factory=DuplicateRules)
    after_hours: AfterHoursRules = Field(default_factory=AfterHoursRules)
    mention_all: MentionAllRules = Field(default_factory=MentionAllRules)
    names: NameRules = Field(default_factory=NameRules)

    _tz: ZoneInfo = PrivateAttr()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return check_timezone(v)

    def model_post_init(self, context: Any, /) -> None:
        self._tz = ZoneInfo(self.timezone)

    @property
    def tz(self) -> ZoneInfo:
        return self._tz


def _loc_text(loc: tuple[int | str, ...]) -> str:
    """('idle', 'days') -> '[idle].days'; ('names', 'words', '征兵', 'kind') -> '[names.words].征兵.kind'."""
    parts = [str(p) for p in loc]
    if not parts:
        return "(top level)"
    if len(parts) == 1:
        return parts[0]
    # The deepest prefix that is a TOML table header is the section; the rest is the key path.
    return (
        f"[{parts[0]}]." + ".".join(parts[1:])
        if len(parts) == 2
        else (f"[{parts[0]}.{parts[1]}]." + ".".join(parts[2:]))
    )


def _find_line(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line of the entry: walk section headers, then the key inside the section."""
    lines = text.splitlines()
    keys = [str(p) for p in loc]
    start = 0
    section_depth = 0
    # Find the longest header matching a prefix of the location.
    for depth in range(len(keys), 0, -1):
        dotted = r"\s*\.\s*".join(map(re.escape, keys[:depth]))
        header = re.compile(r"^\s*\[\s*" + dotted + r"\s*\]\s*(#.*)?$")
        for i, line in enumerate(lines):
            if header.match(line):
                start, section_depth = i, depth
                break
        if section_depth:
            break
    rest = keys[section_depth:]
    if not rest:
        return start + 1 if section_depth else None
    key = re.compile(r"^\s*[\"']?" + re.escape(rest[0]) + r"[\"']?\s*=")
    for i in range(start + 1 if section_depth else 0, len(lines)):
        if section_depth and i > start and re.match(r"^\s*\[", lines[i]):
            break
        if key.match(lines[i]):
            return i + 1
    return start + 1 if section_depth else None


def parse_rules(text: str, name: str = "rules.toml") -> Rules:
    """Validate rule text; `name` is used in error messages only."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{name}: invalid TOML: {exc}") from exc
    try:
        return Rules.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _find_line(text, loc)
            where = f"{name}:{line}" if line else name
            problems.append(f"{where}: {_loc_text(loc)}: {err['msg']}")
        raise RulesError("\n".join(problems)) from exc


def load_rules(path: Path | None = None) -> Rules:
    """Load and validate a rule file; None = the packaged default rules.toml."""
    p = DEFAULT_PATH if path is None else Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{p}: cannot read rule file: {exc}") from exc
    return parse_rules(text, name=str(p))
