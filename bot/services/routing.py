"""Which bot account sends a message: one that can reach the recipient, the least loaded.

* A private message goes through an account the recipient is a friend of; a contact with no
  recorded friendships is reachable by every account when `Contact.friend` says so.
* A group message (an @mention, a greeting) goes through an account that is in the group; a
  group with no presence recorded (enrolled before accounts were) by any account.
* Among those, accounts with a live logged-in instance come first, then the least load: the
  messages already queued for each, plus those routed in this batch. So a digest round spreads
  evenly over the fleet.
* No account can reach the recipient: with one account it is tried anyway, as before accounts
  were known (the gateway has the last word); with several it is not sent and fails as
  unreachable, which the supervisor digest reports.
* No account known at all (before the first login): no account is named and whichever instance
  delivers first sends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.core.domain import OutgoingMessage
from storage import accounts as accounts_db
from storage import instances as instances_db


@dataclass(frozen=True, slots=True)
class Route:
    """The account to send through (None: any), or why nobody can (`unreachable`)."""

    account_id: str | None
    unreachable: bool = False


class Routes:
    """What routing needs for one batch of messages, read in a few queries."""

    def __init__(
        self,
        accounts: Sequence[str],
        live: set[str],
        load: dict[str, int],
        reach: dict[str, set[str]],
        friendly: dict[str, bool],
        presence: dict[str, set[str]],
        active_rooms: set[str],
    ) -> None:
        self.accounts = list(accounts)
        self.live = live
        self.load = {a: load.get(a, 0) for a in self.accounts}
        self._reach = reach
        self._friendly = friendly
        self._presence = presence
        self._active = active_rooms
        # One conversation, one account per batch: a chart follows its digest out, in order.
        self._sticky: dict[str, str] = {}

    @classmethod
    def load_for(
        cls, session: Session, messages: Iterable[OutgoingMessage], now: datetime, fresh_within: timedelta
    ) -> Routes:
        msgs = list(messages)
        accounts = sorted(accounts_db.account_ids(session))
        if not accounts:
            return cls([], set(), {}, {}, {}, {}, set())
        contacts = {m.recipient_id for m in msgs if m.recipient_id and not m.room_id}
        rooms = {m.room_id for m in msgs if m.room_id}
        instances = instances_db.instances_since(session, since=now - fresh_within)
        live = {i.account for i in instances if i.account and i.logged_in}
        if not instances:
            live = set(accounts)  # no heartbeats at all (one process runs every account): all live
        friendly = accounts_db.friend_flags(session, contact_ids=contacts)
        active = accounts_db.active_among(session, room_ids=rooms)
        return cls(
            accounts,
            live,
            accounts_db.pending_counts(session),
            accounts_db.reach_of(session, contact_ids=contacts),
            friendly,
            accounts_db.presence_of(session, room_ids=rooms),
            active,
        )

    def candidates(self, msg: OutgoingMessage) -> list[str]:
        if msg.room_id:
            present = self._presence.get(msg.room_id)
            if present:
                return sorted(present)
            return list(self.accounts) if msg.room_id in self._active else []
        if not msg.recipient_id:
            return []
        friends = self._reach.get(msg.recipient_id)
        if friends:
            return sorted(friends)
        return list(self.accounts) if self._friendly.get(msg.recipient_id, True) else []

    def pick(self, msg: OutgoingMessage) -> Route:
        """Route one message and count it towards the chosen account's load."""
        conversation = f"room:{msg.room_id}" if msg.room_id else f"contact:{msg.recipient_id}"
        if msg.account_id is not None:
            chosen = msg.account_id
        elif not self.accounts:
            return Route(None)
        elif conversation in self._sticky:
            chosen = self._sticky[conversation]
        else:
            found = self.candidates(msg)
            if not found:
                if len(self.accounts) == 1:
                    return self._take(conversation, self.accounts[0])
                return Route(None, unreachable=True)
            chosen = min(found, key=lambda a: (a not in self.live, self.load.get(a, 0), a))
        return self._take(conversation, chosen)

    def _take(self, conversation: str, account_id: str) -> Route:
        self._sticky[conversation] = account_id
        self.load[account_id] = self.load.get(account_id, 0) + 1
        return Route(account_id)
