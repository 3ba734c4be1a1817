"""The world a digest is made from: the audit as of a day plus contacts, units and requests.

Policies are evaluated "as of" the local date, exactly like `qingqun audit --at DATE`, so the
numbers in a digest match the ledger for that date.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.digests.calendar import week_start
from bot.reports.progress import trend_days
from bot.services.audit import AuditRow, as_of, run_audit
from bot.services.campaigns import CampaignCoverage, CampaignStatus, campaign_trend, campaigns_covering
from bot.services.capacity import AccountLoad, account_loads
from policies.model import Burden
from policies.rules import Rules
from storage import approvals as approvals_db
from storage import directory as directory_db
from storage import eventlog as eventlog_db
from storage import outbox as outbox_db
from storage.db import session_scope
from storage.models import Contact

DIGEST_LISTED = "digest_listed"  # EventLog kind: which rooms a queued owner digest named


@dataclass
class World:
    """Everything digests read, loaded in a handful of queries."""

    now: datetime
    today: date
    tz: ZoneInfo
    rows: list[AuditRow]
    burdens: list[Burden]
    contacts: dict[str, Contact]
    units: dict[str, str | None]  # unit -> parent
    pending: list[tuple[str, str]]  # (room_id, kind) of approval requests waiting
    failed: list[tuple[str | None, str | None, str]]  # (recipient_id, room_id, error) this week
    listed: dict[str, set[str]] = field(default_factory=dict)  # room -> periods of sent owner digests
    accounts: list[AccountLoad] = field(default_factory=list)  # the fleet's bot accounts, how full

    def is_root(self, unit: str) -> bool:
        """A unit at the top of the jurisdiction tree (no parent, or not in the unit table)."""
        return self.units.get(unit) is None

    def name(self, contact_id: str | None) -> str:
        if contact_id is None:
            return "（未知）"
        c = self.contacts.get(contact_id)
        return c.name if c is not None and c.name else contact_id

    def subtree(self, root: str) -> set[str]:
        return directory_db.subtree_of(self.units, root)

    def room_unit(self, row: AuditRow) -> str | None:
        """The registered unit, else the owner's unit."""
        if row.room.unit:
            return row.room.unit
        owner = self.contacts.get(row.room.owner_id or "")
        return owner.unit if owner is not None else None


def load_world(engine: Engine, rules: Rules, now: datetime, tz: ZoneInfo) -> World:
    today = now.astimezone(tz).date()
    rows, burdens = run_audit(engine, rules, as_of(today, tz), tz)
    since = week_start(today, tz) - timedelta(days=7)
    with session_scope(engine) as s:
        contacts = directory_db.contacts(s)
        units = {u.name: u.parent for u in directory_db.all_units(s)}
        pending = [(a.room_id, a.kind) for a in approvals_db.pending_requests(s)]
        failed = [
            (o.recipient_id, o.room_id, o.error or "") for o in outbox_db.failed_outbox_since(s, since=since)
        ]
        # Digests queued up to now (a preview of an earlier date must not count later ones).
        events = [e for e in eventlog_db.events_of_kind(s, kind=DIGEST_LISTED) if e.at is None or e.at <= now]
        keys = [_detail(e.detail).get("key", "") for e in events]
        status = outbox_db.outbox_status_by_key(s, keys=keys)
        accounts = account_loads(s)
    listed: dict[str, set[str]] = defaultdict(set)
    for e, key in zip(events, keys, strict=True):
        if status.get(key) == "sent":
            for room_id in _subjects(e.subjects):
                listed[room_id].add(_detail(e.detail).get("period", ""))
    return World(now, today, tz, rows, burdens, contacts, units, pending, failed, dict(listed), accounts)


def _detail(raw: str) -> dict[str, str]:
    value = json.loads(raw or "{}")
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _subjects(raw: str) -> list[str]:
    value = json.loads(raw or "[]")
    return [str(v) for v in value] if isinstance(value, list) else []


def load_campaigns(
    engine: Engine, rules: Rules, now: datetime, tz: ZoneInfo, units: Iterable[str]
) -> dict[str, list[CampaignCoverage]]:
    """For each unit a campaign covers: those campaigns, with the unit's subtree's figures today."""
    today = now.astimezone(tz).date()
    out: dict[str, list[CampaignCoverage]] = {}
    for unit in sorted(set(units)):
        found = campaigns_covering(engine, unit=unit, at=today, now=now, rules=rules, tz=tz)
        if found:
            out[unit] = found
    return out


def load_trends(
    engine: Engine, rules: Rules, now: datetime, tz: ZoneInfo, charted: dict[str, CampaignCoverage]
) -> dict[str, list[CampaignStatus]]:
    """Each unit's figures for its charted campaign on the baseline day and at each week's end
    since, up to today (the days of `trend_days`); one evaluation per campaign and day."""
    by_campaign: dict[str, list[str]] = defaultdict(list)
    for unit, cov in charted.items():
        by_campaign[cov.campaign.name].append(unit)
    out: dict[str, list[CampaignStatus]] = {}
    for name, units in by_campaign.items():
        cov = charted[units[0]]
        days = trend_days(cov.campaign.baseline_date, cov.at)
        out.update(campaign_trend(engine, name=name, units=units, days=days, now=now, rules=rules, tz=tz))
    return out
