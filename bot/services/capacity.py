"""How full each bot account of the fleet is: the rooms it is in against its room limit.

Read by `qingqun status` and by the supervisor digest; two queries whatever the number of rooms.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from storage import accounts as accounts_db

NEAR_LIMIT_PERCENT = 90  # from here on an account is reported as nearly full


@dataclass(frozen=True)
class AccountLoad:
    account: str
    name: str
    rooms: int  # active rooms it is in
    room_limit: int

    @property
    def percent(self) -> int:
        return self.rooms * 100 // self.room_limit if self.room_limit > 0 else 0

    @property
    def near_limit(self) -> bool:
        return self.room_limit > 0 and self.rooms * 100 >= NEAR_LIMIT_PERCENT * self.room_limit

    @property
    def label(self) -> str:
        """The name operators know it by (the wxid until it has logged in with a name)."""
        return self.name or self.account


def account_loads(session: Session) -> list[AccountLoad]:
    """Every recorded account, ordered by id (none in a database no account has logged in to)."""
    rooms = accounts_db.room_counts(session)
    return [
        AccountLoad(a.id, a.name, rooms.get(a.id, 0), a.room_limit) for a in accounts_db.all_accounts(session)
    ]
