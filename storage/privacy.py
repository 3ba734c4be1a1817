"""A person's rights over their data: export everything stored about one contact, or forget them.

Forgetting keeps what belongs to the groups, so counts and later recomputations stay right:

* the contact row is deleted;
* every other place their id appears (memberships, per-day message counts, command log, event
  log, approvals, topic changes, the rooms' enrolled/registered-by and admin lists, the keys of
  messages already sent to them) gets one fresh random pseudonym. It is not derived from the id
  and the mapping is not kept, so it cannot be traced back; being one value, a room's member
  count, distinct senders and the duplicate rule's membership overlaps come out as before;
* rooms they own lose their owner (the bot no longer knows whom to write to);
* messages still queued to them are dropped; texts of messages sent to them are cleared, and their
  name is removed from texts sent to others (supervisor digests name owners).

The caller commits, then on SQLite wipes the free space (storage.db.wipe_free_space): deleted
and overwritten rows otherwise stay readable in the file and in the -wal.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session, SQLModel, col

from storage.models import (
    ApprovalRequest,
    CampaignBaseline,
    CommandLog,
    Contact,
    ContactReach,
    EventLog,
    Membership,
    Outbox,
    Room,
    RoomHistory,
    SenderDay,
    TopicChange,
)

PSEUDONYM_PREFIX = "forgotten-"
NAME_REMOVED = "（已删除人员）"
# Characters that may be part of a contact id: a match must not be followed or preceded by one,
# so forgetting "li" leaves "lili" alone.
_ID_CHARS = r"A-Za-z0-9_\-."


class UnknownContactError(LookupError):
    """No stored row mentions this contact id."""


def _token(contact_id: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![{_ID_CHARS}]){re.escape(contact_id)}(?![{_ID_CHARS}])")


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _json(raw: str | None) -> Any:
    try:
        return json.loads(raw or "null")
    except ValueError:
        return raw


def _row(obj: SQLModel, *names: str) -> dict[str, Any]:
    return {n: _iso(getattr(obj, n)) for n in names}


def _containing(session: Session, model: type[SQLModel], fields: Iterable[str], contact_id: str) -> list[Any]:
    """Rows where any of the named text fields holds the id as a token (LIKE narrows, the regex decides)."""
    names = list(fields)
    stmt = select(model).where(or_(*(getattr(model, n).contains(contact_id, autoescape=True) for n in names)))
    pattern = _token(contact_id)
    return [obj for obj in session.scalars(stmt) if any(pattern.search(getattr(obj, n) or "") for n in names)]


def _by_id(rows: Iterable[Any]) -> list[Any]:
    """Distinct rows (the session hands out one object per row) in id order."""
    return sorted({id(r): r for r in rows}.values(), key=lambda r: r.id)


def _outbox_to(session: Session, contact_id: str) -> list[Outbox]:
    addressed = list(session.scalars(select(Outbox).where(col(Outbox.recipient_id) == contact_id)))
    addressed += _containing(session, Outbox, ["mentions", "dedupe_key"], contact_id)
    return _by_id(addressed)


def _events(session: Session, contact_id: str) -> list[EventLog]:
    rows = list(session.scalars(select(EventLog).where(col(EventLog.actor_id) == contact_id)))
    rows += _containing(session, EventLog, ["subjects", "detail"], contact_id)
    return _by_id(rows)


def _approvals(session: Session, contact_id: str) -> list[ApprovalRequest]:
    rows = list(
        session.scalars(
            select(ApprovalRequest).where(
                or_(
                    col(ApprovalRequest.requested_by) == contact_id,
                    col(ApprovalRequest.decided_by) == contact_id,
                )
            )
        )
    )
    rows += _containing(session, ApprovalRequest, ["payload"], contact_id)
    return _by_id(rows)


def _rooms(session: Session, contact_id: str) -> list[Room]:
    rows = list(
        session.scalars(
            select(Room).where(
                or_(
                    col(Room.owner_id) == contact_id,
                    col(Room.enrolled_by) == contact_id,
                    col(Room.registered_by) == contact_id,
                )
            )
        )
    )
    rows += _containing(session, Room, ["admin_ids"], contact_id)
    return _by_id(rows)


def _commands(session: Session, contact_id: str) -> list[CommandLog]:
    rows = list(session.scalars(select(CommandLog).where(col(CommandLog.sender_id) == contact_id)))
    rows += _containing(session, CommandLog, ["args", "reason"], contact_id)
    return _by_id(rows)


def _history(session: Session, contact_id: str) -> list[RoomHistory]:
    stmt = (
        select(RoomHistory)
        .where(or_(col(RoomHistory.owner_id) == contact_id, col(RoomHistory.registered_by) == contact_id))
        .order_by(col(RoomHistory.id))
    )
    return list(session.scalars(stmt).all())


def _baselines(session: Session, contact_id: str) -> list[CampaignBaseline]:
    stmt = select(CampaignBaseline).where(col(CampaignBaseline.owner_id) == contact_id)
    return list(session.scalars(stmt).all())


def export_contact(session: Session, *, contact_id: str) -> dict[str, Any]:
    """Everything stored about one person, as JSON-ready values; UnknownContactError if nothing."""
    contact = session.get(Contact, contact_id)
    memberships = session.scalars(
        select(Membership).where(col(Membership.contact_id) == contact_id).order_by(col(Membership.id))
    ).all()
    sender_days = session.scalars(
        select(SenderDay)
        .where(col(SenderDay.contact_id) == contact_id)
        .order_by(col(SenderDay.day), col(SenderDay.room_id))
    ).all()
    topic_changes = session.scalars(
        select(TopicChange).where(col(TopicChange.changed_by) == contact_id).order_by(col(TopicChange.id))
    ).all()
    rooms = _rooms(session, contact_id)
    pattern = _token(contact_id)

    def roles(room: Room) -> list[str]:
        out = [
            r
            for r, v in (
                ("owner", room.owner_id),
                ("enrolled_by", room.enrolled_by),
                ("registered_by", room.registered_by),
            )
            if v == contact_id
        ]
        return [*out, "admin"] if pattern.search(room.admin_ids or "") else out

    data: dict[str, Any] = {
        "contact_id": contact_id,
        "contact": None if contact is None else _row(contact, "id", "name", "unit", "role", "friend"),
        "rooms": [
            {**_row(r, "id", "topic", "status", "kind", "end_date", "unit", "purpose"), "roles": roles(r)}
            for r in rooms
        ],
        "memberships": [_row(m, "room_id", "joined_at", "left_at") for m in memberships],
        "friend_of_accounts": sorted(
            session.scalars(
                select(col(ContactReach.account_id)).where(col(ContactReach.contact_id) == contact_id)
            )
        ),
        "sender_days": [_row(d, "room_id", "day", "messages") for d in sender_days],
        "commands": [
            {**_row(c, "at", "room_id", "command", "outcome", "reason"), "args": _json(c.args)}
            for c in _commands(session, contact_id)
        ],
        "approvals": [
            {
                **_row(
                    a,
                    "id",
                    "room_id",
                    "kind",
                    "requested_by",
                    "requested_at",
                    "status",
                    "decided_by",
                    "decided_at",
                    "decision_reason",
                ),
                "payload": _json(a.payload),
            }
            for a in _approvals(session, contact_id)
        ],
        "messages_to_them": [
            {
                **_row(o, "kind", "period", "room_id", "status", "created_at", "sent_at", "text"),
                "mentions": _json(o.mentions),
            }
            for o in _outbox_to(session, contact_id)
        ],
        "topic_changes": [_row(t, "room_id", "at", "old_topic", "new_topic") for t in topic_changes],
        # The rooms' recorded past (owner or registrant then) and campaign baselines they own.
        "room_history": [
            _row(h, "room_id", "at", "topic", "status", "owner_id", "registered_by")
            for h in _history(session, contact_id)
        ],
        "campaign_baselines": [
            _row(b, "campaign_id", "room_id", "topic", "unit") for b in _baselines(session, contact_id)
        ],
        "events": [
            {
                **_row(e, "at", "kind", "room_id", "actor_id"),
                "subjects": _json(e.subjects),
                "detail": _json(e.detail),
            }
            for e in _events(session, contact_id)
        ],
    }
    if not any(data[k] for k in data if k != "contact_id"):
        raise UnknownContactError(contact_id)
    return data


@dataclass
class ForgetResult:
    """What forget_contact changed, per kind of row; `pseudonym` is never stored with the id."""

    pseudonym: str
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int) -> None:
        if n:
            self.counts[name] = self.counts.get(name, 0) + n


def _rewrite(
    rows: Iterable[Any],
    fields: Iterable[str],
    change: Callable[[str], str],
) -> int:
    """Apply `change` to the named string fields of each row; the number of rows changed."""
    changed = 0
    for obj in rows:
        touched = False
        for name in fields:
            old = getattr(obj, name)
            if isinstance(old, str):
                new = change(old)
                if new != old:
                    setattr(obj, name, new)
                    touched = True
        changed += touched
    return changed


def forget_contact(session: Session, *, contact_id: str, pseudonym: str | None = None) -> ForgetResult:
    """Remove or pseudonymise every stored trace of one person (see the module doc).

    UnknownContactError, with nothing changed, when no row mentions the id. The caller commits.
    """
    export_contact(session, contact_id=contact_id)  # UnknownContactError before anything changes
    alias = pseudonym or PSEUDONYM_PREFIX + secrets.token_hex(6)
    if _token(contact_id).search(alias):
        raise ValueError("the pseudonym must not contain the id")
    pattern = _token(contact_id)
    result = ForgetResult(alias)

    def swap(text: str) -> str:
        return pattern.sub(alias, text)

    contact = session.get(Contact, contact_id)
    name = (contact.name if contact is not None else "") or ""
    if contact is not None:
        session.delete(contact)
        result.add("contact", 1)
    reach = session.scalars(select(ContactReach).where(col(ContactReach.contact_id) == contact_id)).all()
    for friendship in reach:
        session.delete(friendship)
    result.add("friend_of_accounts", len(reach))

    model: type[SQLModel]
    for model, field_name, label in (
        (Membership, "contact_id", "memberships"),
        (SenderDay, "contact_id", "sender_days"),
        (TopicChange, "changed_by", "topic_changes"),
    ):
        rows = session.scalars(select(model).where(getattr(model, field_name) == contact_id)).all()
        for obj in rows:
            setattr(obj, field_name, alias)
        result.add(label, len(rows))

    result.add("room_history", _rewrite(_history(session, contact_id), ("owner_id", "registered_by"), swap))
    result.add("campaign_baselines", _rewrite(_baselines(session, contact_id), ("owner_id",), swap))
    result.add("commands", _rewrite(_commands(session, contact_id), ("sender_id", "args", "reason"), swap))
    result.add("events", _rewrite(_events(session, contact_id), ("actor_id", "subjects", "detail"), swap))
    approval_fields = ("requested_by", "decided_by", "payload", "decision_reason")
    result.add("approvals", _rewrite(_approvals(session, contact_id), approval_fields, swap))
    for room in _rooms(session, contact_id):
        if room.owner_id == contact_id:
            room.owner_id = None
        _rewrite([room], ("enrolled_by", "registered_by", "admin_ids"), swap)
        result.add("rooms", 1)

    for o in _outbox_to(session, contact_id):
        if o.status in ("pending", "sending"):
            session.delete(o)
            result.add("messages_dropped", 1)
            continue
        o.text = ""
        _rewrite([o], ("recipient_id", "mentions", "dedupe_key", "error"), swap)
        result.add("messages_cleared", 1)
    # Their name in texts sent to others (a supervisor digest lists owners by name). Names of one
    # character are too likely to be part of other words to be removed safely.
    if len(name) >= 2:
        others = session.scalars(select(Outbox).where(col(Outbox.text).contains(name, autoescape=True))).all()
        result.add("names_removed", _rewrite(others, ("text",), lambda t: t.replace(name, NAME_REMOVED)))
    others_with_id = _containing(session, Outbox, ["text", "error"], contact_id)
    result.add("names_removed", _rewrite(others_with_id, ("text", "error"), swap))
    session.flush()
    return result
