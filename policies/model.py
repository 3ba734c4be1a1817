"""Facts the engine reads and verdicts it returns; frozen so verdicts can be cached and compared."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Kind = Literal["standing", "temporary", "phase"]
Status = Literal["active", "dissolved", "removed"]
Action = Literal["dissolve", "merge", "register", "review", "notice"]
# The kinds' display names; the label reasons use them, and so does every reply (bot.core.wording).
KIND_CN: dict[str, str] = {"standing": "常设群", "temporary": "临时群", "phase": "阶段性群"}

LABEL_CODES: tuple[str, ...] = (
    "temporary_expired",
    "phase_expired",
    "suspected_phase_expired",
    "idle",
    "duplicate",
    "unregistered",
    "ownerless",
    "ending_soon",
    "after_hours",
    "mention_all_heavy",
)


@dataclass(frozen=True, slots=True)
class DayActivity:
    """One local day of aggregated activity; after-hours split was decided when recording."""

    day: date
    messages: int
    after_hours: int
    mention_all: int
    distinct_senders: int


@dataclass(frozen=True, slots=True)
class WindowTotals:
    """Activity summed over the `days` local days ending `today`, precomputed by the reader.

    A storage reader that can sum in the database hands these instead of one DayActivity per
    day; the engine uses one whose (today, days) matches its window and otherwise sums `daily`.
    It must equal what summing the room's `daily` over that window would give.
    """

    today: date
    days: int
    messages: int
    after_hours: int
    mention_all: int


@dataclass(frozen=True, slots=True)
class RoomFacts:
    """Everything the policies may know about a group, as of the moment of evaluation."""

    room_id: str
    topic: str
    owner_id: str | None
    status: Status
    kind: Kind | None
    end_date: date | None
    approved: bool
    enrolled_at: datetime
    member_ids: Collection[str]  # distinct contact ids: a frozenset, or the audit's tuple
    registered_at: datetime | None = None
    created_on: date | None = None
    last_activity: datetime | None = None
    daily: tuple[DayActivity, ...] = ()
    unit: str | None = None
    # A supervisor approved keeping this group (保留) despite its labels.
    retained: bool = False
    # Precomputed window sums (see WindowTotals); empty means: sum `daily`.
    windows: tuple[WindowTotals, ...] = ()


@dataclass(frozen=True, slots=True)
class NameInference:
    """What a group's name suggests: kind, inferred end date and the words that fired."""

    kind: Kind | None
    end_date: date | None
    words: tuple[str, ...]
    standing_hint: bool
    # How the end date was found: "date" (explicit time expression), "window" (task word +
    # default window from the reference day) or "" (no end).
    end_source: str = ""


@dataclass(frozen=True, slots=True)
class Label:
    """One finding: the code and action are a stable interface (audit JSON); reason is for people."""

    code: str
    action: Action
    reason: str
    rule_id: str
    evidence: Mapping[str, object] = field(default_factory=dict)


# "This group should go": the actions that ask for the group to end (dissolve) or to be folded
# into its twin (merge). One definition for the engine (what an approved 保留 answers, who is
# burdened), the 保留 command, the digests, escalation and the ledger. "review", "register" and
# "notice" ask the owner to confirm or fix something; the group itself may stay.
SHOULD_GO_ACTIONS: frozenset[str] = frozenset({"dissolve", "merge"})


def should_go(label: Label) -> bool:
    """Whether the label asks for the group to be dissolved or merged."""
    return label.action in SHOULD_GO_ACTIONS


@dataclass(frozen=True, slots=True)
class RoomVerdict:
    room_id: str
    labels: tuple[Label, ...]
    inference: NameInference | None = None


@dataclass(frozen=True, slots=True)
class Burden:
    """How many active groups one person sits in, and how many of those should go."""

    contact_id: str
    active_groups: int
    flagged_groups: int
