"""SQLModel tables. Datetimes are stored as UTC and always come back timezone-aware.

Nothing here holds message text: activity is kept as per-room per-day counters, and the
command log keeps only parsed fields.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, LargeBinary, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Unit(SQLModel, table=True):
    """A node of the jurisdiction tree (区/县 → 乡镇/街道 → 村/社区)."""

    name: str = Field(primary_key=True)
    parent: str | None = Field(default=None, index=True)


class Contact(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str = ""
    unit: str | None = Field(default=None, index=True)
    role: str = "staff"  # staff | supervisor
    friend: bool = True


class Room(SQLModel, table=True):
    id: str = Field(primary_key=True)
    topic: str = ""
    owner_id: str | None = Field(default=None, index=True)
    status: str = Field(default="active", index=True)  # active | dissolved | removed
    status_at: datetime | None = _ts()
    enrolled_at: datetime | None = _ts()
    enrolled_by: str | None = Field(default=None, index=True)
    created_on: date | None = None
    member_count: int = 0
    admin_ids: str = "[]"  # JSON list, refreshed with the room payload
    kind: str | None = None  # standing | temporary | phase (registered)
    end_date: date | None = None
    original_end_date: date | None = None
    extension_count: int = 0
    purpose: str | None = None
    unit: str | None = Field(default=None, index=True)
    registered_by: str | None = None
    registered_at: datetime | None = _ts()
    approved: bool = False
    claimed_dissolved_at: datetime | None = _ts()
    last_activity_at: datetime | None = _ts()
    # Absent from the room list at a login; removed only once a later check confirms it (0008).
    missing_since: datetime | None = _ts()
    # The one bot account that counts this room's messages and records its events (0010).
    observer_id: str | None = Field(default=None, index=True)


class RoomHistory(SQLModel, table=True):
    """A room's registration and status as they became at `at`: what audits of past days read.

    A row is written whenever one of these fields changes (storage/history.py); the latest row at
    or before a moment is the room as it was then.
    """

    __table_args__ = (Index("ix_roomhistory_room_at", "room_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    room_id: str
    at: datetime | None = _ts(nullable=False, index=True)
    topic: str = ""
    owner_id: str | None = None
    status: str = "active"
    status_at: datetime | None = _ts()
    kind: str | None = None
    end_date: date | None = None
    original_end_date: date | None = None
    extension_count: int = 0
    purpose: str | None = None
    unit: str | None = None
    registered_by: str | None = None
    registered_at: datetime | None = _ts()
    approved: bool = False


class Campaign(SQLModel, table=True):
    """A cleanup drive (专项清理) over a unit's subtree, with its frozen baseline day."""

    __table_args__ = (UniqueConstraint("name", name="uq_campaign_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str
    scope: str
    baseline_date: date
    target_pct: float | None = None
    deadline: date | None = None
    created_at: datetime | None = _ts()


class CampaignBaseline(SQLModel, table=True):
    """One group of a campaign's baseline, as it was at the end of the baseline day; never changed."""

    campaign_id: int = Field(primary_key=True)
    room_id: str = Field(primary_key=True)
    unit: str
    topic: str = ""
    owner_id: str | None = None
    status: str = "active"
    kind: str | None = None
    end_date: date | None = None
    member_count: int = 0
    labels: str = "[]"  # JSON list of the label codes the audit gave it that day


class Membership(SQLModel, table=True):
    """One stay of a contact in a room; left_at is NULL while they are a member."""

    __table_args__ = (
        Index("ix_membership_room_current", "room_id", "left_at"),
        # Audits of a past day ask first whether anyone joined or left since (storage/history.py).
        Index("ix_membership_joined_at", "joined_at"),
        Index("ix_membership_left_at", "left_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    room_id: str = Field(index=True)
    contact_id: str = Field(index=True)
    joined_at: datetime | None = _ts()
    left_at: datetime | None = _ts()


class TopicChange(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    room_id: str = Field(index=True)
    at: datetime | None = _ts()
    old_topic: str = ""
    new_topic: str = ""
    changed_by: str | None = None


class DailyActivity(SQLModel, table=True):
    """Per-room per-local-day counters; the only trace messages leave."""

    # On SQLite, clustered by (room_id, day): how rows are written and read (migration 0004).
    __table_args__ = {"sqlite_with_rowid": False}

    room_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    messages: int = 0
    distinct_senders: int = 0
    mention_all: int = 0
    after_hours: int = 0
    last_at: datetime | None = _ts()


class SenderDay(SQLModel, table=True):
    """Messages per sender per room per day, so distinct senders survive restarts."""

    room_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    contact_id: str = Field(primary_key=True)
    messages: int = 0


class EventLog(SQLModel, table=True):
    """What the bot observed (joins, leaves, topic changes, removal…), never message text."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _ts(index=True)
    kind: str = Field(index=True)
    room_id: str | None = Field(default=None, index=True)
    actor_id: str | None = None
    subjects: str = "[]"  # JSON list of contact ids
    detail: str = "{}"  # JSON object of structured fields


class CommandLog(SQLModel, table=True):
    """Audit trail of commands: parsed fields only, the raw text is never stored."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _ts(index=True)
    sender_id: str = Field(index=True)
    room_id: str | None = None
    command: str = ""
    args: str = "{}"  # JSON object of parsed arguments
    outcome: str = ""  # ok | refused | pending
    reason: str = ""


class ApprovalRequest(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    room_id: str = Field(index=True)
    kind: str = ""  # standing | extend | retain
    requested_by: str = ""
    requested_at: datetime | None = _ts()
    payload: str = "{}"
    status: str = Field(default="pending", index=True)  # pending | approved | rejected
    decided_by: str | None = None
    decided_at: datetime | None = _ts()
    decision_reason: str | None = None


class Outbox(SQLModel, table=True):
    """Every message the bot sends. `dedupe_key` = recipient|kind|period makes sends idempotent."""

    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_lane_due", "status", "lane", "not_before"),
        Index("ix_outbox_account_due", "account_id", "status", "not_before"),
        Index("ix_outbox_account_sent", "account_id", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str
    kind: str = ""
    period: str = ""
    recipient_id: str | None = None  # contact for a private message
    room_id: str | None = None  # room for a group message
    mentions: str = "[]"
    text: str = ""
    # A file message (migration 0006): the bytes live in the row, so whichever instance leads
    # can send it; they are dropped once sent, and the name stays for the record.
    file_name: str | None = None
    file_data: bytes | None = Field(default=None, sa_column=Column(LargeBinary(), nullable=True))
    # reply: an answer to someone who just wrote (or the greeting on invite), sent at any hour;
    # push: digests, reminders and notices, in working time only (migration 0008).
    lane: str = "push"
    # The bot account that sends it: one that can reach the recipient (0010). NULL: any account,
    # as before accounts were known; the sending account is written here when it claims the row.
    account_id: str | None = None
    status: str = "pending"  # pending | sending | sent | failed | dropped (a reply gone stale)
    attempts: int = 0
    created_at: datetime | None = _ts()
    not_before: datetime | None = _ts()
    sent_at: datetime | None = _ts()
    error: str | None = None


class Instance(SQLModel, table=True):
    """A running `qingqun run` process's heartbeat, for `qingqun status` (migration 0008)."""

    id: str = Field(primary_key=True)  # host:pid:start, unique per process
    host: str = ""
    pid: int = 0
    account: str | None = None  # the logged-in wxid, once known
    logged_in: bool = False
    logged_out_since: datetime | None = _ts()
    connected: bool = False
    last_event_at: datetime | None = _ts()
    leader: bool = False
    started_at: datetime | None = _ts()
    updated_at: datetime | None = _ts(index=True)


class Account(SQLModel, table=True):
    """A bot WeChat account of the fleet, recorded at its first login (migration 0010)."""

    id: str = Field(primary_key=True)  # the wxid
    name: str = ""
    room_limit: int = 300  # as configured on the instance that serves it, at its last login
    first_login_at: datetime | None = _ts()
    last_login_at: datetime | None = _ts()


class RoomPresence(SQLModel, table=True):
    """A bot account that is in a room now; the row goes when it leaves or is removed (0010)."""

    __table_args__ = (Index("ix_roompresence_account", "account_id"),)

    room_id: str = Field(primary_key=True)
    account_id: str = Field(primary_key=True)
    since: datetime | None = _ts()
    # Absent from this account's room list at a login: it leaves only once a later check agrees.
    missing_since: datetime | None = _ts()


class ContactReach(SQLModel, table=True):
    """A contact is a friend of this bot account, so it can message them privately (0010).

    A contact with no rows here is reachable as `Contact.friend` says: by any account (the roster
    said `friend: true`, or only one account was ever known) or by none.
    """

    __table_args__ = (Index("ix_contactreach_account", "account_id"),)

    contact_id: str = Field(primary_key=True)
    account_id: str = Field(primary_key=True)
