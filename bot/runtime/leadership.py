"""Scheduler leadership across instances, and each account's right to send.

Two `qingqun run` processes may share one PostgreSQL database. Only the holder of a
session-level advisory lock (`pg_try_advisory_lock`) leads: it runs the scheduler and delivers
the outbox. The others retry every `leader_poll_interval` seconds and take over when the
leader's database session ends (process killed, connection lost). Should two processes ever
both act, the outbox still holds: its unique dedupe key keeps a digest from being queued twice,
and `FOR UPDATE SKIP LOCKED` keeps a row from being claimed twice. SQLite has no such lock and is
single-instance: there, this process always leads.

The same kind of lock, keyed by the account (`account_lock_key`), lets exactly one process send
as each bot account: its outbox rows, its pacing and its caps. Leadership of the schedule does
not depend on any account being logged in.
"""

from __future__ import annotations

import hashlib

from loguru import logger
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

LEADER_LOCK_KEY = 0x71_69_6E_67  # "qing"


def account_lock_key(account: str) -> int:
    """A stable signed 64-bit advisory-lock key for sending as `account`."""
    digest = hashlib.sha256(f"qingqun-account:{account}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Leadership:
    """Holds a PostgreSQL session-level advisory lock on a dedicated connection; SQLite always leads."""

    def __init__(self, engine: Engine, key: int = LEADER_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._conn: Connection | None = None
        self.single = engine.dialect.name != "postgresql"

    @property
    def held(self) -> bool:
        return self.single or self._conn is not None

    def try_acquire(self) -> bool:
        """Take or keep the lock; False when another process holds it or our session is gone."""
        if self.single:
            return True
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
                return True
            except Exception:
                logger.warning("lost the leadership session; stepping down")
                self._drop()
                return False
        conn = self._engine.connect()
        # Detached: closing it really closes the session (and frees the lock) instead of pooling it.
        conn.detach()
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar())
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._conn.commit()
        except Exception:
            logger.info("could not unlock leadership cleanly; closing the session frees it")
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                logger.info("leadership connection did not close cleanly")
