"""The bot accounts of a fleet: who they are, which rooms each is in, whose friend each is, and
which account observes (counts) each room.

One account observes a room: the first to be in it, handed over to another present account when
it leaves or is removed. A room no account is in any more is "removed" (the caller decides, it
knows the time). A room or contact with no rows here is served as before accounts were known.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from storage.db import in_chunks
from storage.models import Account, Contact, ContactReach, Membership, Outbox, Room, RoomPresence

UNREACHABLE = "没有哪个机器人账号能联系到对方（不是好友，也不在该群中）"


# ---------------------------------------------------------------- accounts


def record_login(session: Session, *, account_id: str, name: str, room_limit: int, at: datetime) -> bool:
    """Note a login of `account_id`; True when it is new to the database.

    An account is a bot, not a person: stays another account recorded for it as a member end.
    """
    account = session.get(Account, account_id)
    fresh = account is None
    if account is None:
        account = Account(id=account_id, first_login_at=at)
        session.add(account)
    account.name = name or account.name
    account.room_limit = room_limit
    account.last_login_at = at
    stays = select(col(Membership.room_id)).where(
        col(Membership.contact_id) == account_id, col(Membership.left_at).is_(None)
    )
    counted_in = list(session.scalars(stays))
    if counted_in:
        session.execute(
            update(Membership)
            .where(col(Membership.contact_id) == account_id, col(Membership.left_at).is_(None))
            .values(left_at=at)
        )
        session.execute(
            update(Room)
            .where(col(Room.id).in_(counted_in), col(Room.member_count) > 0)
            .values(member_count=Room.member_count - 1)
        )
    return fresh


def all_accounts(session: Session) -> list[Account]:
    return list(session.exec(select(Account).order_by(col(Account.id))).scalars())  # type: ignore[call-overload]


def account_ids(session: Session) -> set[str]:
    return set(session.scalars(select(col(Account.id))))


# ---------------------------------------------------------------- presence and observers


def enter_room(session: Session, *, room: Room, account_id: str, at: datetime) -> None:
    """`account_id` is in `room`; it observes the room unless a present account does already."""
    row = session.get(RoomPresence, (room.id, account_id))
    if row is None:
        session.add(RoomPresence(room_id=room.id, account_id=account_id, since=at))
        session.flush()
    if room.observer_id != account_id and (
        room.observer_id is None or not _present(session, room.id, room.observer_id)
    ):
        room.observer_id = account_id


def leave_room(session: Session, *, room: Room, account_id: str) -> str | None:
    """`account_id` is out of `room`. Returns the room's observer afterwards (None: nobody left).

    The longest-present remaining account takes over observing, and the room's queued messages
    that were to go through the leaving account are routed to it (or fail as unreachable)."""
    session.execute(
        delete(RoomPresence).where(
            col(RoomPresence.room_id) == room.id, col(RoomPresence.account_id) == account_id
        )
    )
    left = session.scalars(
        select(col(RoomPresence.account_id))
        .where(col(RoomPresence.room_id) == room.id)
        .order_by(col(RoomPresence.since), col(RoomPresence.account_id))
    ).all()
    if room.observer_id == account_id or (room.observer_id is not None and room.observer_id not in left):
        room.observer_id = left[0] if left else None
    pending = update(Outbox).where(
        col(Outbox.room_id) == room.id,
        col(Outbox.account_id) == account_id,
        col(Outbox.status) == "pending",
    )
    if room.observer_id is not None:
        session.execute(pending.values(account_id=room.observer_id))
    else:
        session.execute(pending.values(status="failed", error=UNREACHABLE))
    return room.observer_id


def is_present(session: Session, *, room_id: str, account_id: str) -> bool:
    return _present(session, room_id, account_id)


def _present(session: Session, room_id: str, account_id: str) -> bool:
    return session.get(RoomPresence, (room_id, account_id)) is not None


def present_accounts(session: Session, *, room_id: str) -> list[str]:
    return list(
        session.scalars(
            select(col(RoomPresence.account_id))
            .where(col(RoomPresence.room_id) == room_id)
            .order_by(col(RoomPresence.since), col(RoomPresence.account_id))
        )
    )


def presence_rows(session: Session, *, account_id: str) -> list[RoomPresence]:
    stmt = select(RoomPresence).where(col(RoomPresence.account_id) == account_id)
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def presence_of(session: Session, *, room_ids: Iterable[str]) -> dict[str, set[str]]:
    """room id -> the accounts in it, for the given rooms (rooms nobody is in are absent)."""
    return _grouped(session, col(RoomPresence.room_id), col(RoomPresence.account_id), room_ids)


def _grouped(session: Session, key: Any, value: Any, keys: Iterable[str]) -> dict[str, set[str]]:
    """key -> the set of values of rows whose key is among `keys` (read in chunks)."""
    out: dict[str, set[str]] = defaultdict(set)
    for chunk in in_chunks(set(keys)):
        for k, v in session.execute(select(key, value).where(key.in_(chunk))):
            out[k].add(v)
    return dict(out)


def observers(session: Session) -> dict[str, str | None]:
    """Active room id -> its observing account (None: no account recorded, as before accounts)."""
    stmt = select(col(Room.id), col(Room.observer_id)).where(col(Room.status) == "active")
    return {room_id: observer for room_id, observer in session.execute(stmt)}


def room_counts(session: Session) -> dict[str, int]:
    """Account -> the active rooms it is in."""
    stmt = (
        select(col(RoomPresence.account_id), func.count())
        .join(Room, col(Room.id) == col(RoomPresence.room_id))
        .where(col(Room.status) == "active")
        .group_by(col(RoomPresence.account_id))
    )
    return {account_id: int(n) for account_id, n in session.execute(stmt)}


# ---------------------------------------------------------------- friends


def note_friendship(session: Session, *, contact_id: str, account_id: str, friend: bool) -> None:
    """What `account_id`'s own contact list says; `Contact.friend` becomes "a friend of any account"."""
    row = session.get(ContactReach, (contact_id, account_id))
    if friend and row is None:
        session.add(ContactReach(contact_id=contact_id, account_id=account_id))
    elif not friend and row is not None:
        session.delete(row)
    session.flush()
    contact = session.get(Contact, contact_id)
    if contact is not None:
        contact.friend = friend or _reach_count(session, contact_id) > 0


def set_friends(session: Session, *, contact_id: str, account_ids: Iterable[str]) -> None:
    """The roster names exactly which accounts a contact is a friend of."""
    session.execute(delete(ContactReach).where(col(ContactReach.contact_id) == contact_id))
    for account_id in sorted(set(account_ids)):
        session.add(ContactReach(contact_id=contact_id, account_id=account_id))


def _reach_count(session: Session, contact_id: str) -> int:
    stmt = select(func.count()).select_from(ContactReach).where(col(ContactReach.contact_id) == contact_id)
    return int(session.execute(stmt).scalar() or 0)


def reach_of(session: Session, *, contact_ids: Iterable[str]) -> dict[str, set[str]]:
    """contact id -> the accounts it is a friend of (contacts without rows are absent)."""
    return _grouped(session, col(ContactReach.contact_id), col(ContactReach.account_id), contact_ids)


def friend_counts(session: Session) -> dict[str, int]:
    stmt = select(col(ContactReach.account_id), func.count()).group_by(col(ContactReach.account_id))
    return {account_id: int(n) for account_id, n in session.execute(stmt)}


# ---------------------------------------------------------------- sends


def sent_counts_since(session: Session, *, since: datetime) -> dict[str, int]:
    """Account -> messages it sent at or after `since`."""
    stmt = (
        select(col(Outbox.account_id), func.count())
        .where(col(Outbox.sent_at) >= since, col(Outbox.account_id).is_not(None))
        .group_by(col(Outbox.account_id))
    )
    return {account_id: int(n) for account_id, n in session.execute(stmt)}


def pending_counts(session: Session) -> dict[str, int]:
    """Account -> messages queued for it and not yet sent (the load routing balances)."""
    stmt = (
        select(col(Outbox.account_id), func.count())
        .where(col(Outbox.status).in_(("pending", "sending")), col(Outbox.account_id).is_not(None))
        .group_by(col(Outbox.account_id))
    )
    return {account_id: int(n) for account_id, n in session.execute(stmt)}


def rooms_with_presence(session: Session) -> set[str]:
    """Rooms some account is recorded in (the others were enrolled before accounts were)."""
    return set(session.scalars(select(col(RoomPresence.room_id)).distinct()))


def all_missing(session: Session, *, room_id: str) -> bool:
    """Every account in the room found it missing from its room list (none saw it since)."""
    rows = session.scalars(
        select(col(RoomPresence.missing_since)).where(col(RoomPresence.room_id) == room_id)
    ).all()
    return bool(rows) and all(r is not None for r in rows)


def friend_flags(session: Session, *, contact_ids: Iterable[str]) -> dict[str, bool]:
    """contact id -> `Contact.friend`, for the known ones among `contact_ids`."""
    out: dict[str, bool] = {}
    for chunk in in_chunks(set(contact_ids)):
        for contact_id, friend in session.execute(
            select(col(Contact.id), col(Contact.friend)).where(col(Contact.id).in_(chunk))
        ):
            out[contact_id] = bool(friend)
    return out


def active_among(session: Session, *, room_ids: Iterable[str]) -> set[str]:
    """The rooms among `room_ids` whose status is active."""
    out: set[str] = set()
    for chunk in in_chunks(set(room_ids)):
        out.update(
            session.scalars(select(col(Room.id)).where(col(Room.id).in_(chunk), col(Room.status) == "active"))
        )
    return out
