"""This process's view of the fleet: the other bot accounts, and which rooms it observes.

Several accounts may sit in one room; only the room's observer counts its messages and records
its joins, leaves and topic changes, so each is counted once. The view is a cache for the message
path (no query per message), refreshed at login, on every presence change this process sees, and
with each activity flush, which picks up a handover made by another process.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from storage import accounts as accounts_db
from storage.db import session_scope


class Fleet:
    """Known account ids, and each active room's observer (None: recorded before accounts)."""

    def __init__(self) -> None:
        self.accounts: set[str] = set()
        self.observers: dict[str, str | None] = {}

    def refresh(self, engine: Engine) -> None:
        with session_scope(engine) as s:
            accounts = accounts_db.account_ids(s)
            observers = accounts_db.observers(s)
        self.accounts, self.observers = accounts, observers

    def observes(self, room_id: str, me: str | None) -> bool:
        """Whether `me` counts this room: it observes it, or nobody is recorded as observing."""
        observer = self.observers.get(room_id)
        return observer is None or me is None or observer == me

    def is_bot(self, contact_id: str) -> bool:
        return contact_id in self.accounts
