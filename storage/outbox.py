"""The outbox table: queueing, claiming and the delivery record of every message the bot sends."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlmodel import Session, col

from storage.db import insert_for
from storage.models import (
    Outbox,
)


@dataclass(frozen=True, slots=True)
class NewRow:
    """One message to queue, as the outbox table stores it."""

    dedupe_key: str
    text: str
    kind: str
    period: str
    recipient_id: str | None
    room_id: str | None
    mentions: Sequence[str]
    at: datetime
    file_name: str | None = None
    file_data: bytes | None = None
    lane: str = "push"
    account_id: str | None = None
    status: str = "pending"
    error: str | None = None


BATCH = 500  # rows per INSERT: well inside SQLite's limit on bound parameters


def enqueue_outbox(session: Session, rows: Sequence[NewRow]) -> set[str]:
    """Insert the rows whose key is not queued yet; returns the keys that went in.

    One statement per batch (executemany with RETURNING, on the session's connection and in its
    transaction): a digest round of thousands of rows costs a few round trips, not one each."""
    if not rows:
        return set()
    table = Outbox.__table__  # type: ignore[attr-defined]
    stmt = insert_for(session, table)
    # RETURNING the key rather than rowcount: with the implicit RETURNING SQLAlchemy adds on
    # PostgreSQL, rowcount is -1 whether or not a row went in.
    stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.dedupe_key)
    conn = session.connection()
    added: set[str] = set()
    for start in range(0, len(rows), BATCH):
        params = [
            {
                "dedupe_key": r.dedupe_key,
                "text": r.text,
                "file_name": r.file_name,
                "file_data": r.file_data,
                "lane": r.lane,
                "kind": r.kind,
                "period": r.period,
                "recipient_id": r.recipient_id,
                "room_id": r.room_id,
                "mentions": json.dumps(list(r.mentions)),
                "account_id": r.account_id,
                "status": r.status,
                "error": r.error,
                "attempts": 0,
                "created_at": r.at,
                "not_before": r.at,
            }
            for r in rows[start : start + BATCH]
        ]
        added.update(conn.execute(stmt, params).scalars())
    return added


def _mine(account: str) -> ColumnElement[bool]:
    """Rows `account` may send: its own, and those no account was named for."""
    return or_(col(Outbox.account_id) == account, col(Outbox.account_id).is_(None))


def _sendable(stmt: Any, account: str | None) -> Any:
    """Rows a process may send: as `account`, its own and unnamed ones; before any login
    (`account` None), only unnamed ones, as every row was before accounts were known."""
    if account is None:
        return stmt.where(col(Outbox.account_id).is_(None))
    return stmt.where(_mine(account))


def claim_next_outbox(
    session: Session, *, now: datetime, lane: str | None = None, account: str | None = None
) -> Outbox | None:
    """The next due row (of `lane`, and sendable by `account`, if given), locked so another
    instance skips it (FOR UPDATE SKIP LOCKED on PostgreSQL). Due rows leave in queue order."""
    stmt = select(Outbox).where(col(Outbox.status) == "pending", col(Outbox.not_before) <= now)
    if lane is not None:
        stmt = stmt.where(col(Outbox.lane) == lane)
    stmt = _sendable(stmt, account)
    stmt = stmt.order_by(col(Outbox.not_before), col(Outbox.id)).limit(1).with_for_update(skip_locked=True)
    return session.exec(stmt).scalars().first()  # type: ignore[no-any-return]


def next_outbox_due(
    session: Session, *, lane: str | None = None, account: str | None = None
) -> datetime | None:
    stmt = select(func.min(Outbox.not_before)).where(col(Outbox.status) == "pending")
    if lane is not None:
        stmt = stmt.where(col(Outbox.lane) == lane)
    return session.execute(_sendable(stmt, account)).scalar()


def drop_stale(session: Session, *, lane: str, created_before: datetime, reason: str) -> list[int]:
    """Mark `lane`'s pending rows queued before `created_before` as dropped; returns their ids."""
    ids = [
        i
        for i in session.scalars(
            select(col(Outbox.id)).where(
                col(Outbox.status) == "pending",
                col(Outbox.lane) == lane,
                col(Outbox.created_at) < created_before,
            )
        )
        if i is not None
    ]
    if ids:
        session.execute(
            update(Outbox).where(col(Outbox.id).in_(ids)).values(status="dropped", error=reason[:500])
        )
    return ids


def _sent_by(stmt: Any, account: str | None) -> Any:
    return stmt if account is None else stmt.where(col(Outbox.account_id) == account)


def oldest_sent_since(session: Session, *, since: datetime, account: str | None = None) -> datetime | None:
    stmt = select(func.min(Outbox.sent_at)).where(col(Outbox.sent_at) >= since)
    return session.execute(_sent_by(stmt, account)).scalar()


def pending_count(session: Session) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(Outbox).where(col(Outbox.status).in_(("pending", "sending")))
        ).scalar()
        or 0
    )


def failed_count_since(session: Session, *, since: datetime) -> int:
    stmt = (
        select(func.count())
        .select_from(Outbox)
        .where(col(Outbox.status) == "failed", col(Outbox.created_at) >= since)
    )
    return int(session.execute(stmt).scalar() or 0)


def last_sent_at(session: Session, *, account: str | None = None) -> datetime | None:
    """When the last message went out (through `account`, if given): pacing is per account."""
    value: datetime | None = session.execute(_sent_by(select(func.max(Outbox.sent_at)), account)).scalar()
    return value


def sent_since(session: Session, *, since: datetime, account: str | None = None) -> int:
    stmt = select(func.count()).select_from(Outbox).where(col(Outbox.sent_at) >= since)
    return int(session.execute(_sent_by(stmt, account)).scalar() or 0)


def outbox_rows(session: Session, *, status: str | None = None) -> list[Outbox]:
    stmt = select(Outbox).order_by(col(Outbox.id))
    if status:
        stmt = stmt.where(col(Outbox.status) == status)
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]


def outbox_status_by_key(session: Session, *, keys: Iterable[str]) -> dict[str, str]:
    """dedupe_key -> status for the given keys (missing keys are absent)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.execute(
        select(col(Outbox.dedupe_key), col(Outbox.status)).where(col(Outbox.dedupe_key).in_(wanted))
    )
    return {key: status for key, status in rows}


def failed_outbox_since(session: Session, *, since: datetime) -> list[Outbox]:
    stmt = (
        select(Outbox)
        .where(col(Outbox.status) == "failed", col(Outbox.created_at) >= since)
        .order_by(col(Outbox.id))
    )
    return list(session.exec(stmt).scalars())  # type: ignore[call-overload]
